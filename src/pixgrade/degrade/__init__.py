"""pixgrade.degrade"""
