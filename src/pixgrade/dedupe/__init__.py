"""pixgrade.dedupe"""
