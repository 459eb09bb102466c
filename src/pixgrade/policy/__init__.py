"""pixgrade.policy"""
