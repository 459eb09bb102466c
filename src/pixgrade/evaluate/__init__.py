"""pixgrade.evaluate"""
