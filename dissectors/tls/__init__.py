"""TLS-PSK: framing, key schedules, record protection and a sans-IO client/server engine."""
