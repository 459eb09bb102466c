"""pixgrade.serve"""
