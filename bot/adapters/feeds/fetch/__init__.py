"""Fetching a feed's bytes over HTTP(S): the fetcher, and the limits and address guard it fetches under."""
