"""pixgrade.report"""
