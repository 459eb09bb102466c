"""pixgrade.export"""
