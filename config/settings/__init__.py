"""Settings modules: base, dev, test and production, chosen by DJANGO_SETTINGS_MODULE."""
