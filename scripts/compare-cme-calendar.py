#!/usr/bin/env python3
"""Compares schedctl's CME calendar with pandas_market_calendars' CME_Equity, day by day.

Reads `schedctl calendar CME --from … --to … --json` on standard input; prints one line per trade
date where the two disagree (missing on one side, or a different close), as JSON lines:
{"date": "YYYY-MM-DD", "schedctl": "HH:MM" | null, "pandas": "HH:MM" | null}  (closes in CT).
Exit status 3 when pandas_market_calendars is not installed.
"""
import json
import sys

try:
    import pandas_market_calendars as mcal
except ImportError:
    sys.exit(3)

first, last = sys.argv[1], sys.argv[2]
ours = {}
for row in json.load(sys.stdin):
    from datetime import datetime
    from zoneinfo import ZoneInfo
    close = datetime.fromisoformat(row["close"].replace("Z", "+00:00")).astimezone(ZoneInfo("America/Chicago"))
    ours[row["date"]] = close.strftime("%H:%M")

schedule = mcal.get_calendar("CME_Equity").schedule(start_date=first, end_date=last)
theirs = {}
for day, row in schedule.iterrows():
    theirs[day.strftime("%Y-%m-%d")] = row["market_close"].tz_convert("America/Chicago").strftime("%H:%M")

for date in sorted(set(ours) | set(theirs)):
    if ours.get(date) != theirs.get(date):
        print(json.dumps({"date": date, "schedctl": ours.get(date), "pandas": theirs.get(date)}))
