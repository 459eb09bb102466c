"""pixgrade.train"""
