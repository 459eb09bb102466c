"""pixgrade.model"""
