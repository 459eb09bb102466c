"""pixgrade.engines"""
