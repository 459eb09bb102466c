"""pixgrade.pipeline"""
