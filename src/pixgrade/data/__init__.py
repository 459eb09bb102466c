"""pixgrade.data"""
