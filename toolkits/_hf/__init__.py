"""Hugging Face plumbing shared by the toolkits that talk to the Hub or the dataset viewer.

client.py (HfApi and httpx clients, token, URLs), calls.py (one Hub call: time limit, retries),
errors.py (failures as UserErrors that say what to do), suggestions.py (ids for a missing repo).
"""
