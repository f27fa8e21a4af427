"""Fakes of remote services, served for real on 127.0.0.1 while a test runs."""
