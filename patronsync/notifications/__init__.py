"""Telling people when a job ends: email to a profile's subscribers, and signed webhooks."""
