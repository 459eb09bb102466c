"""pixgrade.io"""
