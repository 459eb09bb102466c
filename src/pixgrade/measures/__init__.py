"""pixgrade.measures"""
