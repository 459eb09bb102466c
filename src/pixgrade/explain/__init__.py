"""pixgrade.explain"""
