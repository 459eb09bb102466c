"""pixgrade.catalog"""
