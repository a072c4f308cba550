"""Risk rules, alert lifecycle and notifications to duty officers."""
