#!/usr/bin/env python3
"""Generate realistic, clearly labelled *generated* Denver open-data CSV files.

Two datasets, in the header vintages of FORMATS.md:

  traffic_accidents   --vintage 2025 (default; 47 columns, mixed-case names,
                      dates like ``8/2/2025 4:16:00 PM``), 2019 (45 upper-case
                      columns, ISO dates), 2016 (19 columns, ISO dates, ids as
                      floats ``20148031043.0``)
  service_requests_311
                      --vintage 2024 (default; 24 columns, every field quoted,
                      CRLF, Windows-1252 with 0xA0/0x92 bytes), 2019 (UTF-8 with
                      BOM, quoted only where needed, CRLF)

Quirks reproduced (see FORMATS.md): right-padded offense names and district
ids, whitespace-only road/light conditions, upper-case categories on older
rows and title case on newer ones, the ``UI`` district, zero coordinates that
mean "missing", 311 rows whose Longitude holds the latitude, ``0``/``00000``
zip codes, ZIP+4, status typos (``Transfered``), a few LF line breaks inside
quoted 311 fields, and optionally (``--unescaped-quotes``) the non-RFC inner
quotes of the 2013/14 311 files.

Patterns: a per-day weather model (dry, rain, snow, ice after snow) drives
both accident counts and road conditions, so winter has more accidents and
more icy/snowy roads; 311 volume varies by neighborhood and council district
and by season (snow removal after snow days, potholes in spring); 311 close
times depend on agency and case type; coordinates fall in Denver's bounding
box (39.61..39.92 N, -105.11..-104.60 W) around real neighborhood centres.

Everything is deterministic for a given --seed and the other options.  No
default depends on today's date.  The output file name must contain
"generated" so generated data cannot be mistaken for the city's.

Standard library only, so it runs under any python3; about 1 GB per minute
or two on one core.
"""

import argparse
import bisect
import datetime as dt
import math
import os
import random
import sys

# ---------------------------------------------------------------------------
# Geography: (name, lat, lon, council district, police district, 311 weight,
# traffic factor).  Centres are approximate; weights are invented but shaped
# like a city (downtown busy, highways and the airport heavy in crashes).
NEIGHBORHOODS = [
    ("Auraria", 39.7430, -105.0050, 3, 6, 0.8, 1.0),
    ("Athmar Park", 39.7030, -105.0100, 7, 4, 1.0, 1.3),
    ("Baker", 39.7170, -104.9930, 7, 3, 1.6, 1.4),
    ("Barnum", 39.7200, -105.0320, 3, 4, 0.9, 1.1),
    ("Bear Valley", 39.6600, -105.0750, 2, 4, 0.8, 1.0),
    ("Belcaro", 39.7050, -104.9470, 6, 3, 0.7, 0.8),
    ("Berkeley", 39.7770, -105.0450, 1, 1, 1.2, 0.8),
    ("CBD", 39.7470, -104.9920, 10, 6, 2.6, 1.6),
    ("Capitol Hill", 39.7310, -104.9800, 10, 6, 2.4, 1.1),
    ("Chaffee Park", 39.7870, -105.0200, 1, 1, 0.5, 1.5),
    ("Cheesman Park", 39.7330, -104.9670, 10, 6, 1.3, 0.7),
    ("Cherry Creek", 39.7170, -104.9530, 10, 3, 1.5, 1.6),
    ("City Park", 39.7480, -104.9500, 9, 2, 0.8, 0.9),
    ("Civic Center", 39.7370, -104.9880, 10, 6, 1.9, 1.2),
    ("Clayton", 39.7700, -104.9500, 9, 2, 0.8, 0.9),
    ("Cole", 39.7650, -104.9650, 9, 2, 0.8, 0.8),
    ("Congress Park", 39.7330, -104.9500, 10, 2, 1.1, 0.9),
    ("Cory - Merrill", 39.6850, -104.9500, 6, 3, 0.7, 1.2),
    ("East Colfax", 39.7400, -104.9000, 5, 2, 1.5, 1.4),
    ("Elyria Swansea", 39.7830, -104.9550, 9, 2, 1.0, 2.0),
    ("Five Points", 39.7550, -104.9800, 9, 6, 2.2, 1.3),
    ("Fort Logan", 39.6400, -105.0450, 2, 4, 0.6, 0.8),
    ("Gateway - Green Valley Ranch", 39.7850, -104.7700, 11, 5, 1.7, 1.5),
    ("Globeville", 39.7860, -104.9830, 9, 1, 0.8, 2.2),
    ("Goldsmith", 39.6600, -104.9050, 4, 3, 0.8, 1.6),
    ("Hale", 39.7300, -104.9350, 5, 2, 0.8, 1.1),
    ("Hampden", 39.6500, -104.8800, 4, 3, 1.2, 1.5),
    ("Hampden South", 39.6400, -104.8950, 4, 3, 1.0, 1.4),
    ("Harvey Park", 39.6700, -105.0500, 2, 4, 1.0, 0.9),
    ("Highland", 39.7600, -105.0120, 1, 1, 1.6, 1.0),
    ("Indian Creek", 39.6800, -104.8830, 5, 3, 0.5, 0.9),
    ("Jefferson Park", 39.7530, -105.0170, 1, 1, 0.6, 1.2),
    ("Kennedy", 39.6500, -104.8400, 4, 3, 0.5, 1.1),
    ("Lincoln Park", 39.7300, -105.0000, 3, 6, 1.2, 1.5),
    ("Lowry Field", 39.7180, -104.8950, 5, 3, 0.8, 0.8),
    ("Mar Lee", 39.6800, -105.0350, 2, 4, 1.0, 1.1),
    ("Marston", 39.6300, -105.0700, 2, 4, 0.7, 0.8),
    ("Montbello", 39.7830, -104.8370, 8, 5, 1.6, 1.3),
    ("Montclair", 39.7280, -104.9150, 5, 3, 0.7, 0.9),
    ("North Capitol Hill", 39.7420, -104.9800, 10, 6, 1.5, 1.0),
    ("North Park Hill", 39.7600, -104.9250, 8, 2, 1.0, 0.7),
    ("Northeast Park Hill", 39.7680, -104.9250, 8, 2, 0.9, 0.8),
    ("Overland", 39.6720, -104.9980, 7, 4, 0.6, 1.8),
    ("Platt Park", 39.6850, -104.9800, 7, 3, 0.9, 0.9),
    ("Regis", 39.7870, -105.0350, 1, 1, 0.6, 0.9),
    ("Rosedale", 39.6770, -104.9840, 7, 3, 0.5, 1.0),
    ("Ruby Hill", 39.6850, -105.0080, 7, 4, 1.0, 1.0),
    ("Sloan Lake", 39.7480, -105.0450, 1, 1, 1.1, 0.9),
    ("South Park Hill", 39.7450, -104.9250, 8, 2, 0.9, 0.8),
    ("Southmoor Park", 39.6350, -104.9150, 4, 3, 0.5, 1.3),
    ("Speer", 39.7180, -104.9780, 7, 3, 1.3, 1.0),
    ("Stapleton", 39.7650, -104.8850, 8, 2, 1.8, 1.0),
    ("Sun Valley", 39.7280, -105.0200, 3, 4, 0.4, 1.2),
    ("Sunnyside", 39.7760, -105.0150, 1, 1, 1.1, 0.9),
    ("Union Station", 39.7530, -105.0000, 9, 6, 1.6, 1.3),
    ("University", 39.6750, -104.9620, 6, 3, 1.0, 1.0),
    ("University Hills", 39.6650, -104.9300, 4, 3, 0.6, 1.4),
    ("Valverde", 39.7120, -105.0150, 3, 4, 0.6, 1.4),
    ("Villa Park", 39.7300, -105.0350, 3, 4, 0.9, 1.0),
    ("Virginia Village", 39.6900, -104.9250, 6, 3, 1.1, 1.1),
    ("Washington Park", 39.7000, -104.9700, 7, 3, 1.0, 0.8),
    ("Washington Virginia Vale", 39.7070, -104.9200, 6, 3, 1.0, 1.2),
    ("Wellshire", 39.6630, -104.9550, 4, 3, 0.4, 0.9),
    ("West Colfax", 39.7380, -105.0350, 1, 1, 1.1, 1.3),
    ("Westwood", 39.7000, -105.0350, 3, 4, 1.3, 1.1),
    ("Whittier", 39.7570, -104.9650, 9, 2, 0.8, 0.8),
    ("Windsor", 39.6980, -104.8850, 5, 3, 0.9, 1.2),
    ("DIA", 39.8500, -104.6730, 11, 7, 0.3, 1.8),
]
LAT_MIN, LAT_MAX, LON_MIN, LON_MAX = 39.61, 39.92, -105.11, -104.60
SPREAD = 0.0075  # degrees, sd of points around a neighborhood centre

STREETS_NS = ["N BROADWAY", "S BROADWAY", "N FEDERAL BLVD", "S FEDERAL BLVD",
              "N COLORADO BLVD", "S COLORADO BLVD", "N SPEER BLVD",
              "N YORK ST", "N JOSEPHINE ST", "S UNIVERSITY BLVD",
              "N QUEBEC ST", "S MONACO ST", "N SHERIDAN BLVD", "N LINCOLN ST",
              "N WADSWORTH BLVD", "S HAVANA ST", "N PEORIA ST", "N TOWER RD"]
STREETS_EW = ["E COLFAX AVE", "W COLFAX AVE", "E 6TH AVE", "W 6TH AVE",
              "E ALAMEDA AVE", "W ALAMEDA AVE", "E EVANS AVE", "W EVANS AVE",
              "E HAMPDEN AVE", "E MISSISSIPPI AVE", "W 38TH AVE", "E 40TH AVE",
              "E MONTVIEW BLVD", "E 17TH AVE", "W JEWELL AVE", "E 56TH AVE",
              "E MLK JR BLVD", "W 44TH AVE"]
# Approximate freeway lines (lat, lon) and their names in crash addresses.
# A share of crashes happens on them, away from where people call 311, so
# the two datasets' geography agrees only partly.
FREEWAYS = [
    ("I25 HWYNB", [(39.648, -104.895), (39.676, -104.948), (39.700, -104.990), (39.735, -105.017),
                   (39.760, -105.020), (39.785, -104.998), (39.850, -104.988)]),
    ("I70 HWYEB", [(39.785, -105.090), (39.784, -105.000), (39.778, -104.940), (39.775, -104.850),
                   (39.770, -104.760)]),
    ("I225 HWYNB", [(39.640, -104.880), (39.690, -104.865), (39.720, -104.860)]),
    ("US6 HWYEB", [(39.726, -105.090), (39.726, -105.010)]),
    ("PENA BLVD OUTBOUND", [(39.778, -104.780), (39.820, -104.700), (39.850, -104.673)]),
]
FREEWAY_SHARE = 0.22
HIGHWAYS = ["I25 HWYNB", "I25 HWYSB", "I70 HWYEB", "I70 HWYWB", "I225 HWYNB",
            "US6 HWYEB", "PENA BLVD OUTBOUND", "PENA BLVD INBOUND"]

# ---------------------------------------------------------------------------
# Traffic categories.  Each entry: (title-case value, upper-case old value).
ROAD_COND = {  # by weather state of the day: [(value, weight)]
    "dry": [("Dry", 93), ("Wet", 3), ("Unknown", 2), ("Dry W/Visible Icy Road Treatment", 1), ("Sand/Gravel", 1)],
    "rain": [("Wet", 62), ("Dry", 33), ("Unknown", 2), ("Muddy", 1), ("Foreign Material", 2)],
    "snow": [("Snowy", 36), ("Icy", 22), ("Slushy", 14), ("Wet", 14), ("Dry", 8),
             ("Snowy W/Visible Icy Road Treatment", 3), ("Icy W/Visible Icy Road Treatment", 3)],
    "ice": [("Icy", 30), ("Dry", 26), ("Wet", 20), ("Slushy", 10), ("Snowy", 8),
            ("Dry W/Visible Icy Road Treatment", 3), ("Wet W/Visible Icy Road Treatment", 3)],
}
LIGHT = {"day": "Daylight", "dusk": "Dawn or Dusk", "lit": "Dark-Lighted",
         "unlit": "Dark-Unlighted"}
LIGHT_OLD = {"Daylight": "DAY LIGHT", "Dawn or Dusk": "DAWN OR DUSK",
             "Dark-Lighted": "DARK-LIGHTED", "Dark-Unlighted": "DARK-UNLIGHTED"}
OFFENSES = [  # (top offense, offense code, extension, offense_type_id, weight)
    ("TRAF - ACCIDENT", 5441, 0, "traffic-accident", 70),
    ("TRAF - ACCIDENT - HIT & RUN", 5401, 0, "traffic-accident-hit-and-run", 22),
    ("TRAF - ACCIDENT - DUI/DUID", 5420, 0, "traffic-accident-dui-duid", 4),
    ("TRAF - ACCIDENT - SBI", 5441, 1, "traffic-accident", 3),
    ("TRAF - ACCIDENT - FATAL", 5441, 2, "traffic-accident", 0.4),
    ("TRAF - ACCIDENT - POLICE", 5441, 3, "traffic-accident", 0.6),
]
HARMFUL = [("Front to Rear", 30), ("Broadside", 18), ("Sideswipe (Same Direction)", 12),
           ("Approach Turn", 9), ("Parked Motor Vehicle", 10), ("Curb", 3),
           ("Light Pole/Utility Pole", 2), ("Pedestrian", 2), ("Bicycle/Motorized Bicycle", 1.5),
           ("Head-On", 1.5), ("Fence", 1), ("Overtaking Turn", 2), ("Other Non-Fixed Object", 1)]
ROAD_LOCATION = [("Non-Intersection", 45), ("At Intersection", 35), ("Intersection Related", 10),
                 ("Driveway Access Related", 5), ("Parking Lot", 3), ("Ramp", 2)]
ROAD_DESCRIPTION = [("Non-Intersection", 44), ("At Intersection", 36), ("Alley Related", 4),
                    ("Driveway Access Related", 6), ("Parking Lot", 4), ("Ramp-related", 3),
                    ("Roundabout", 0.5), ("Highway Interchange", 2.5)]
ROAD_CONTOUR = [("Straight-Level", 70), ("Straight-On-Grade", 16), ("Curve-Level", 6),
                ("Curve-On-Grade", 6), ("Hill Crest", 2)]
VEHICLE = [("Passenger Car/Passenger Van", 48), ("SUV", 26), ("Pickup Truck/Utility Van", 14),
           ("Motorcycle", 2), ("Bicycle", 1.5), ("Bus", 1), ("Medium/Heavy Truck", 2.5),
           ("Unknown", 5)]
DIRECTION = [("North", 25), ("South", 25), ("East", 25), ("West", 25)]
MOVEMENT = [("Going Straight", 48), ("Making Left Turn", 12), ("Making Right Turn", 6),
            ("Stopped in Traffic", 14), ("Backing", 5), ("Changing Lanes", 6), ("Parked", 5),
            ("Slowing", 4)]
ACTION = [("No Contributing Action", 40), ("Careless Driving", 20), ("Followed Too Closely", 12),
          ("Failed to Yield Right-of-Way", 10), ("Exceeded Safe/Posted Speed", 5),
          ("Ran Red Light", 4), ("Lane Violation", 5), ("Reckless Driving", 2),
          ("Other", 2)]
HUMAN = [("No Apparent Contributing Factor", 60), ("Distracted-Other", 14),
         ("Distracted-Cell Phone", 4), ("Asleep or Fatigued", 1), ("Impaired", 5),
         ("Unknown", 16)]
PED_ACTION = [("", 96), ("Crossing at Intersection", 2), ("Crossing Not at Intersection", 1.5),
              ("Walking in Road", 0.5)]
MODE = [("Pedestrian", 30), ("Motorcycle", 20), ("Bicycle", 10), ("Driver", 30), ("Passenger", 10)]

# The 2019 vintage (45 upper-case columns) is the 2025 one without POINT_X/Y,
# upper-cased, with OBJECTID_1 for object_id.
_TRAFFIC_2025 = (
    "object_id,incident_id,offense_id,offense_code,offense_code_extension,"
    "top_traffic_accident_offense,first_occurrence_date,last_occurrence_date,"
    "reported_date,incident_address,geo_x,geo_y,geo_lon,geo_lat,district_id,"
    "precinct_id,neighborhood_id,bicycle_ind,pedestrian_ind,HARMFUL_EVENT_SEQ_1,"
    "HARMFUL_EVENT_SEQ_2,HARMFUL_EVENT_SEQ_3,road_location,ROAD_DESCRIPTION,"
    "ROAD_CONTOUR,ROAD_CONDITION,LIGHT_CONDITION,TU1_VEHICLE_TYPE,"
    "TU1_TRAVEL_DIRECTION,TU1_VEHICLE_MOVEMENT,TU1_DRIVER_ACTION,"
    "TU1_DRIVER_HUMANCONTRIBFACTOR,TU1_PEDESTRIAN_ACTION,TU2_VEHICLE_TYPE,"
    "TU2_TRAVEL_DIRECTION,TU2_VEHICLE_MOVEMENT,TU2_DRIVER_ACTION,"
    "TU2_DRIVER_HUMANCONTRIBFACTOR,TU2_PEDESTRIAN_ACTION,SERIOUSLY_INJURED,"
    "FATALITIES,FATALITY_MODE_1,FATALITY_MODE_2,SERIOUSLY_INJURED_MODE_1,"
    "SERIOUSLY_INJURED_MODE_2,POINT_X,POINT_Y")
TRAFFIC_HEADERS = {
    "2025": _TRAFFIC_2025,
    "2019": "OBJECTID_1," + _TRAFFIC_2025.upper().split(",", 1)[1].rsplit(",POINT_X", 1)[0],
    "2016": ("INCIDENT_ID,OFFENSE_ID,OFFENSE_CODE,OFFENSE_CODE_EXTENSION,OFFENSE_TYPE_ID,"
             "OFFENSE_CATEGORY_ID,FIRST_OCCURRENCE_DATE,LAST_OCCURRENCE_DATE,REPORTED_DATE,"
             "INCIDENT_ADDRESS,GEO_X,GEO_Y,GEO_LON,GEO_LAT,DISTRICT_ID,PRECINCT_ID,"
             "NEIGHBORHOOD_ID,BICYCLE_IND,PEDESTRIAN_IND"),
}

# ---------------------------------------------------------------------------
# 311 categories: (summary, agency, type, median close hours, sigma, weight,
# season profile, has location).  Season profiles scale weight by month.
SEASON = {
    "flat": [1.0] * 12,
    "winter": [2.2, 2.0, 1.4, 0.7, 0.2, 0.05, 0.05, 0.05, 0.2, 0.6, 1.4, 2.0],
    "spring": [0.9, 1.2, 1.6, 1.7, 1.4, 1.0, 0.8, 0.7, 0.7, 0.7, 0.7, 0.8],
    "summer": [0.5, 0.5, 0.7, 0.9, 1.2, 1.5, 1.7, 1.6, 1.3, 0.9, 0.6, 0.5],
    "taxes": [1.6, 1.3, 1.4, 1.8, 1.0, 0.8, 0.7, 0.7, 0.7, 0.8, 0.9, 1.1],
}
DOTI = "Department of Transportation and Infrastructure"
SR_TYPES = [
    ("General Inquiry", "311", "Inquiry", 0.05, 1.0, 30, "flat", False),
    ("Trash Missed Pickup", "Solid Waste Management", "Request", 30, 0.8, 8, "summer", True),
    ("Recycling Missed Pickup", "Solid Waste Management", "Request", 40, 0.8, 5, "flat", True),
    ("Large Item Pickup Request", "Solid Waste Management", "Request", 160, 0.6, 4, "summer", True),
    ("Pothole", DOTI, "Request", 70, 1.0, 5, "spring", True),
    ("Snow Removal - Residential Street", DOTI, "Request", 36, 0.9, 3, "winter", True),
    ("Sidewalk Snow Removal Complaint", "Community Planning and Development", "Complaint", 120, 0.9, 3, "winter", True),
    ("Streetlight Out", DOTI, "Request", 200, 0.9, 2, "flat", True),
    ("Traffic Signal Malfunction", DOTI, "Request", 8, 1.1, 1.5, "flat", True),
    ("Graffiti Removal", "Community Planning and Development", "Request", 110, 0.8, 4, "summer", True),
    ("Abandoned Vehicle", "Denver Police Department", "Complaint", 240, 0.9, 3, "flat", True),
    ("Parking Violation", DOTI, "Complaint", 3, 1.2, 4, "flat", True),
    ("Noise Complaint", "Department of Public Health and Environment", "Complaint", 90, 1.1, 2, "summer", True),
    ("Weeds and Vegetation", "Community Planning and Development", "Complaint", 260, 0.8, 2, "summer", True),
    ("Illegal Dumping", "Solid Waste Management", "Complaint", 120, 0.9, 2, "flat", True),
    ("Encampment Report", "Department of Housing Stability", "Complaint", 300, 1.0, 2, "flat", True),
    ("Dead Animal Pickup", "Department of Public Health and Environment", "Request", 20, 0.8, 1, "summer", True),
    ("Tree Debris", "Denver Parks and Recreation", "Request", 180, 0.9, 1.5, "spring", True),
    ("Driver\u2019s License Question", "311", "Inquiry", 0.05, 1.0, 4, "flat", False),
    ("Motor Vehicle Registration", "Clerk and Recorder", "Inquiry", 0.1, 1.0, 5, "taxes", False),
    ("Property Tax Question", "Department of Finance", "Inquiry", 0.2, 1.2, 3, "taxes", False),
    ("Trash Cart Request", "Solid Waste Management", "Request", 220, 0.7, 2, "flat", False),
]
SR_SOURCES = [("Phone", 55), ("Pocketgov", 14), ("Web", 12), ("Email", 6), ("Chat", 5),
              ("Denver 311 App", 6), ("Walk-In", 2)]
SR_CLOSED = [("Closed - Answered", 40), ("Closed - Resolved", 38), ("Closed - Referred", 10),
             ("Closed - Transfered to External Agency", 4), ("Closed - Duplicate", 4),
             ("Closed - Spam", 1), ("Spam", 1), ("Closed - No Action Needed", 2)]
SR_OPEN = [("New", 30), ("In Progress", 55), ("Escalated", 15)]
SR_HEADER = ("Case Summary,Case Status,Case Source,Case Created Date,Case Created dttm,"
             "Case Closed Date,Case Closed dttm,First Call Resolution,Customer Zip Code,"
             "Incident Address 1,Incident Address 2,Incident Intersection 1,"
             "Incident Intersection 2,Incident Zip Code,Longitude,Latitude,Agency,Division,"
             "Major Area,Type,Topic,Council District,Police District,Neighborhood")
ZIPS = ["80202", "80203", "80204", "80205", "80206", "80207", "80209", "80210", "80211",
        "80212", "80216", "80218", "80219", "80220", "80222", "80223", "80224", "80227",
        "80230", "80231", "80235", "80236", "80237", "80238", "80239", "80246", "80249"]
QUOTED_PHRASES = ["Wood burning on \"Red Days\"", "How did \"911\" route this",
                  "Sign says \"No Parking\" but"]


def cum(pairs):
    """(values, cumulative weights) for bisect-based weighted choice."""
    vals, cws, t = [], [], 0.0
    for v, w in pairs:
        t += w
        vals.append(v)
        cws.append(t)
    return vals, cws


def picker(rng, pairs):
    """A fast weighted chooser: returns a zero-argument function."""
    vals, cws = cum(pairs)
    total = cws[-1]
    rnd = rng.random
    bis = bisect.bisect

    def pick():
        return vals[bis(cws, rnd() * total)]
    return pick


def parse_size(text):
    """'1GB' -> 10**9, '64MiB' -> 64 * 2**20, '5000' -> 5000."""
    s = text.strip().upper()
    units = [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("KB", 1000),
             ("MB", 1000**2), ("GB", 1000**3), ("B", 1)]
    for suffix, mult in units:
        if s.endswith(suffix):
            return int(float(s[: -len(suffix)]) * mult)
    return int(s)


class Weather:
    """A deterministic per-day weather state for Denver: dry, rain, snow, or
    ice (the days after snow).  Shared by both datasets so they agree."""

    SNOW_P = [0.16, 0.15, 0.17, 0.10, 0.03, 0, 0, 0, 0.01, 0.06, 0.12, 0.15]
    RAIN_P = [0.02, 0.03, 0.07, 0.12, 0.18, 0.16, 0.18, 0.17, 0.10, 0.07, 0.03, 0.02]

    EPOCH = dt.date(2000, 1, 1)

    def __init__(self, seed, start, end):
        # Always simulated from a fixed epoch, so both datasets (whatever
        # their date ranges) see the same weather on the same day.
        rng = random.Random(f"weather:{seed}")
        start = min(start, self.EPOCH)
        self.start = start
        self.state = []
        melt = 0
        d = start
        while d <= end:
            m = d.month - 1
            u = rng.random()
            if u < self.SNOW_P[m]:
                st, melt = "snow", rng.randint(1, 3)
            elif melt > 0:
                st, melt = "ice", melt - 1
            elif u < self.SNOW_P[m] + self.RAIN_P[m]:
                st = "rain"
            else:
                st = "dry"
            self.state.append(st)
            d += dt.timedelta(days=1)

    def on(self, day):
        return self.state[(day - self.start).days]


def day_sampler(rng, start, end, weight_of):
    """Weighted choice of a day in [start, end]; weight_of(date) -> float."""
    days, cws, t = [], [], 0.0
    d = start
    while d <= end:
        t += weight_of(d)
        days.append(d)
        cws.append(t)
        d += dt.timedelta(days=1)
    rnd, bis = rng.random, bisect.bisect

    def pick():
        return days[bis(cws, rnd() * t)]
    return pick


HOUR_W = [1.2, 0.9, 1.0, 0.6, 0.5, 0.8, 2.0, 4.5, 5.0, 3.6, 3.5, 4.0, 4.6, 4.6, 4.8, 5.6,
          6.4, 6.8, 5.4, 4.0, 3.0, 2.6, 2.0, 1.6]


def fmt_us(t):
    """`8/2/2025 4:16:00 PM`: no zero padding, 12-hour clock (2025 Hub CSV)."""
    h = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t.year} {h}:{t.minute:02d}:{t.second:02d} {'PM' if t.hour >= 12 else 'AM'}"


def fmt_us_padded(t):
    """`12/31/2015 06:51:06 PM`: zero padded, 12-hour clock."""
    h = t.hour % 12 or 12
    return f"{t.month:02d}/{t.day:02d}/{t.year} {h:02d}:{t.minute:02d}:{t.second:02d} {'PM' if t.hour >= 12 else 'AM'}"


def fmt_iso(t):
    return f"{t.year}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def jitter_point(rng, lat, lon):
    la = min(max(rng.gauss(lat, SPREAD), LAT_MIN), LAT_MAX)
    lo = min(max(rng.gauss(lon, SPREAD * 1.3), LON_MIN), LON_MAX)
    return la, lo


def street_case(name):
    """'E 40TH AVE' -> 'E 40th Ave' (str.title() would give '40Th')."""
    return " ".join(w.capitalize() if w[0].isalpha() else w.lower() for w in name.split())


def slug(name):
    return name.lower().replace(" - ", "-").replace(" ", "-")


# ---------------------------------------------------------------------------
class RowGen:
    """Common state of a dataset generator: options, its own random stream
    (named, so datasets don't disturb each other) and the shared weather."""

    def __init__(self, args, stream):
        self.args = args
        self.v = args.vintage
        self.rng = random.Random(f"{stream}:{args.seed}")
        self.wx = Weather(args.seed, args.start, args.end)


class TrafficGen(RowGen):
    def __init__(self, args):
        super().__init__(args, "traffic")
        rng = self.rng
        wx_factor = {"dry": 1.0, "rain": 1.18, "snow": 1.7, "ice": 1.35}
        month_factor = [1.08, 1.05, 1.0, 0.95, 0.98, 0.97, 0.95, 0.98, 1.0, 1.03, 1.05, 1.1]
        dow_factor = [1.0, 1.02, 1.03, 1.05, 1.18, 0.9, 0.78]
        y0 = args.start.year

        def w(d):
            growth = 1.0 + 0.04 * (d.year - y0) - (0.25 if (d.year == 2020 and d.month >= 4) else 0)
            return month_factor[d.month - 1] * dow_factor[d.weekday()] * wx_factor[self.wx.on(d)] * growth
        self.pick_day = day_sampler(rng, args.start, args.end, w)
        hvals, hcws = cum(enumerate(HOUR_W))
        self.pick_hour = lambda: hvals[bisect.bisect(hcws, rng.random() * hcws[-1])]
        self.pick_nb = picker(rng, [(n, n[5] * n[6]) for n in NEIGHBORHOODS])
        self.pick_cond = {k: picker(rng, v) for k, v in ROAD_COND.items()}
        self.pick_off = picker(rng, [(o, o[4]) for o in OFFENSES])
        p = lambda pairs: picker(rng, pairs)  # noqa: E731
        self.pick_harm, self.pick_loc = p(HARMFUL), p(ROAD_LOCATION)
        self.pick_desc, self.pick_contour = p(ROAD_DESCRIPTION), p(ROAD_CONTOUR)
        self.pick_veh, self.pick_dir, self.pick_mov = p(VEHICLE), p(DIRECTION), p(MOVEMENT)
        self.pick_act, self.pick_hum, self.pick_ped = p(ACTION), p(HUMAN), p(PED_ACTION)
        self.pick_mode = p(MODE)
        self.pick_segment = picker(rng, [((name, a, b), math.hypot(b[0] - a[0], (b[1] - a[1]) * 0.77))
                                         for name, pts in FREEWAYS for a, b in zip(pts, pts[1:])])
        self.seq = {}
        self.object_id = 0
        self.last = dt.datetime.combine(args.end, dt.time(23, 59, 59))
        self.header = TRAFFIC_HEADERS[self.v]

    def next_id(self, year):
        c = self.seq.get(year, 0) + self.rng.randint(1, 3)
        self.seq[year] = c
        return year * 10**8 + c

    def on_freeway(self):
        """A point on one of the freeway lines (segments weighted by length)."""
        rng = self.rng
        seg = self.pick_segment()
        (name, a, b), u = seg, rng.random()
        lat = a[0] + (b[0] - a[0]) * u + rng.gauss(0, 0.0015)
        lon = a[1] + (b[1] - a[1]) * u + rng.gauss(0, 0.0015)
        return (min(max(lat, LAT_MIN), LAT_MAX), min(max(lon, LON_MIN), LON_MAX), name)

    def address(self, nb):
        r = self.rng.random()
        if r < 0.11:
            return ""
        if r < 0.45:
            return f"{self.rng.choice(STREETS_NS)} / {self.rng.choice(STREETS_EW)}"
        if r < 0.58 or nb[0] == "DIA":
            return f"{self.rng.choice(HIGHWAYS)} / {self.rng.choice(STREETS_EW + STREETS_NS)}"
        if r < 0.5805:
            # the 2014 file's only quoted field: coordinates typed into the address
            return "\"LAT:39?41'48.29\"\"N LONG:105?01'30.21\"\"W S FEDERAL BLVD / W MISSISSIPPI AVE\""
        return f"{self.rng.randint(1, 99) * 100} BLOCK {self.rng.choice(STREETS_EW + STREETS_NS)}"

    def row(self):
        rng = self.rng
        rnd = rng.random
        day = self.pick_day()
        state = self.wx.on(day)
        hour = self.pick_hour()
        t_occ = dt.datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.choice((0, 0, 59)))
        t_rep = t_occ + dt.timedelta(minutes=int(rng.expovariate(1 / 25)) if rnd() < 0.93 else rng.randint(60, 4320))
        if t_rep > self.last:
            t_rep = t_occ       # nothing is reported after the file's end date
        old = t_rep.year < 2021
        if rnd() < FREEWAY_SHARE:
            lat, lon, road = self.on_freeway()
            nb = min(NEIGHBORHOODS, key=lambda n: (n[1] - lat) ** 2 + ((n[2] - lon) * 0.77) ** 2)
        else:
            nb, road = self.pick_nb(), None
            lat, lon = jitter_point(rng, nb[1], nb[2])
        name, police = nb[0], nb[4]
        off = self.pick_off()
        inc = self.next_id(t_rep.year)
        if rnd() < 0.004:
            lat = lon = 0.0
        gx = 3140234 + (lon + 105.0012677) * 280200 if lon else 0.0
        gy = 1698428 + (lat - 39.749933) * 364500 if lat else 0.0
        district = "UI" if rnd() < 0.002 else str(police)
        precinct = f"{police}{rng.randint(1, 3)}{rng.randint(1, 9)}"
        addr = f"{road} / {rng.choice(STREETS_EW + STREETS_NS)}" if road else self.address(nb)
        if self.v == "2016":
            return ",".join((
                f"{inc}.0", f"{inc}{off[1]}{off[2]:02d}", str(off[1]), str(off[2]), off[3],
                "traffic-accident", fmt_iso(t_occ),
                fmt_iso(t_rep) if rnd() < 0.01 else "", fmt_iso(t_rep), addr,
                f"{gx:.1f}", f"{gy:.1f}", f"{lon:.7f}", f"{lat:.7f}", district, precinct,
                slug(name), "1" if rnd() < 0.012 else "0", "1" if rnd() < 0.03 else "0"))
        hour_light = (LIGHT["day"] if 7 <= hour < 17 else LIGHT["dusk"] if hour in (6, 17, 18)
                      else LIGHT["lit"] if rnd() < 0.85 else LIGHT["unlit"])
        cond = self.pick_cond[state]()
        if rnd() < 0.02:
            cond = " "          # whitespace-only, as in the city's files
        elif old:
            cond = cond.upper()
        light = " " if rnd() < 0.02 else (LIGHT_OLD.get(hour_light, hour_light.upper()) if old else hour_light)
        ped = "1" if off[0] != "TRAF - ACCIDENT - HIT & RUN" and rnd() < 0.025 else "0"
        bike = "1" if rnd() < 0.015 else "0"
        si = 1 if (off[0] == "TRAF - ACCIDENT - SBI" or rnd() < 0.01) else 0
        fat = 1 if off[0] == "TRAF - ACCIDENT - FATAL" else 0
        tu = []
        for unit in (1, 2):
            if unit == 2 and rnd() < 0.12:
                tu += ["", "", "", "", "", ""]
                continue
            vals = [self.pick_veh(), self.pick_dir(), self.pick_mov(), self.pick_act(),
                    self.pick_hum(), self.pick_ped() if ped == "1" else ""]
            tu += [x.upper() for x in vals] if old else vals
        cats = [self.pick_harm(), "" if rnd() < 0.5 else self.pick_harm(), "" if rnd() < 0.9 else self.pick_harm(),
                self.pick_loc(), self.pick_desc(), self.pick_contour()]
        if old:
            cats = [c.upper() for c in cats]
        if self.v == "2019":
            dfmt = fmt_iso
        else:
            dfmt = fmt_us
        self.object_id += 1
        fields = [
            str(self.object_id), str(inc), f"{inc}{off[1]}{off[2]:02d}", str(off[1]), str(off[2]),
            off[0].ljust(30), dfmt(t_occ), dfmt(t_rep) if rnd() < 0.05 else "", dfmt(t_rep), addr,
            f"{gx:.0f}", f"{gy:.0f}", f"{lon:.7f}" if lon else "0", f"{lat:.7f}" if lat else "0",
            district.ljust(6), precinct, slug(name), bike, ped, *cats[:3], *cats[3:], cond, light, *tu,
            str(si), str(fat), self.pick_mode() if fat else "", "", self.pick_mode() if si else "", "",
        ]
        if self.v == "2025":
            fields += [f"{lon:.7f}" if lon else "0", f"{lat:.7f}" if lat else "0"]
        return ",".join(fields)


# ---------------------------------------------------------------------------
class ServiceGen(RowGen):
    def __init__(self, args):
        super().__init__(args, "311")
        rng = self.rng
        self.end = dt.datetime.combine(args.end, dt.time(23, 59, 59))
        dow = [1.15, 1.05, 1.0, 1.0, 0.95, 0.45, 0.35]
        snow_boost = {"dry": 1.0, "rain": 1.05, "snow": 1.5, "ice": 1.3}

        def w(d):
            return dow[d.weekday()] * snow_boost[self.wx.on(d)]
        self.pick_day = day_sampler(rng, args.start, args.end, w)
        self.type_by_month = [picker(rng, [(t, t[5] * SEASON[t[6]][m]) for t in SR_TYPES])
                              for m in range(12)]
        self.snow_type = next(t for t in SR_TYPES if t[0].startswith("Snow Removal"))
        self.pick_nb = picker(rng, [(n, n[5]) for n in NEIGHBORHOODS])
        self.pick_src = picker(rng, SR_SOURCES)
        self.pick_closed = picker(rng, SR_CLOSED)
        self.pick_open = picker(rng, SR_OPEN)
        self.n = 0
        self.quote_all = self.v == "2024"
        self.enc = "cp1252" if self.v == "2024" else "utf-8"
        self.header = SR_HEADER
        if self.quote_all:
            self.header = ",".join(f'"{h}"' for h in SR_HEADER.split(","))
        hvals, hcws = cum(((h, w) for h, w in enumerate(
            [0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 1.5, 4, 6, 7, 7, 6.5, 6, 6.5, 6.5, 6, 5, 3, 1.5, 1, 0.8, 0.5, 0.3, 0.2])))
        self.pick_hour = lambda: hvals[bisect.bisect(hcws, rng.random() * hcws[-1])]

    def q(self, s):
        """Quote a field: always (2024 style) or only when needed (2019 style)."""
        if self.quote_all or any(c in s for c in ',"\n\r'):
            return '"' + s.replace('"', '""') + '"'
        return s

    def row(self):
        rng = self.rng
        rnd = rng.random
        day = self.pick_day()
        t = self.type_by_month[day.month - 1]()
        if self.wx.on(day) == "snow" and rnd() < 0.25:
            t = self.snow_type
        summary, agency, typ, med_h, sigma, _w, _s, has_loc = t
        created = dt.datetime(day.year, day.month, day.day, self.pick_hour(), rng.randrange(60), rng.randrange(60))
        hours = med_h * math.exp(rng.gauss(0, sigma))
        closed = created + dt.timedelta(hours=hours)
        if closed > self.end or rnd() < 0.01:
            status, closed = self.pick_open(), None
        else:
            status = self.pick_closed() if typ != "Inquiry" else "Closed - Answered"
        nb = self.pick_nb()
        addr1 = addr2 = inter1 = inter2 = izip = lon_s = lat_s = council = police = hood = ""
        summary_text = summary
        if has_loc and rnd() < 0.85:
            lat, lon = jitter_point(rng, nb[1], nb[2])
            r = rnd()
            if r < 0.6:
                addr1 = (f"{rng.randint(1, 99) * 100 + rng.randint(0, 99)} "
                         f"{street_case(rng.choice(STREETS_NS + STREETS_EW))}")
                if rnd() < 0.06:
                    addr2 = f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}"
                if rnd() < 0.02:
                    addr1 = addr1.replace(" ", "\u00a0", 1)  # 0xA0 in the 2024/25 files
            else:
                inter1, inter2 = street_case(rng.choice(STREETS_NS)), street_case(rng.choice(STREETS_EW))
            izip = rng.choice(ZIPS)
            r = rnd()
            if r < 0.02:
                lon_s = lat_s = "0"                       # zero means missing
            elif r < 0.07:
                lon_s, lat_s = f"{lat:.8f}", f"{lat:.8f}"  # latitude in the Longitude column
            else:
                lon_s, lat_s = f"{lon:.8f}", f"{lat:.8f}"
            council, police = str(nb[3]), str(nb[4])
            if not self.args.blank_neighborhood:
                hood = nb[0]
        elif rnd() < 0.3:
            council = str(nb[3])
        self.n += 1
        if self.n == 7 or rnd() < 0.00002:
            # LF inside a quoted field: rare in the real files (2-14 a year);
            # row 7 always has one so that even tiny files exercise it.
            summary_text = summary + "\nsee notes"
        if self.args.unescaped_quotes and rnd() < 0.0005:
            phrase = rng.choice(QUOTED_PHRASES)
            field = f'"{phrase}"'                          # inner quotes NOT doubled
            return self._join(field, status, created, closed, addr1, addr2, inter1, inter2,
                              izip, lon_s, lat_s, agency, typ, council, police, hood, raw_summary=True)
        return self._join(summary_text, status, created, closed, addr1, addr2, inter1, inter2,
                          izip, lon_s, lat_s, agency, typ, council, police, hood)

    def _join(self, summary, status, created, closed, addr1, addr2, inter1, inter2, izip,
              lon_s, lat_s, agency, typ, council, police, hood, raw_summary=False):
        rng, rnd = self.rng, self.rng.random
        fcr = "Y" if rnd() < 0.99 else "N"
        r = rnd()
        czip = ("" if r < 0.3 else "00000" if r < 0.33 else
                f"{rng.choice(ZIPS)}-{rng.randint(1000, 9999)}" if r < 0.36 else rng.choice(ZIPS))
        if typ == "Request" and rnd() < 0.0005:
            typ = "Inqury"  # the typo noted in FORMATS.md
        fmt = fmt_us if (self.v == "2024" or rnd() < 0.5) else fmt_us_padded
        cr_date = f"{created.month:02d}/{created.day:02d}/{created.year}"
        cl_date = f"{closed.month:02d}/{closed.day:02d}/{closed.year}" if closed else ""
        q = self.q
        fields = [summary if raw_summary else q(summary), q(status), q(self.pick_src()), q(cr_date),
                  q(fmt(created)), q(cl_date), q(fmt(closed) if closed else ""), q(fcr), q(czip),
                  q(addr1), q(addr2), q(inter1), q(inter2), q(izip), q(lon_s), q(lat_s), q(agency),
                  q(""), q(""), q(typ), q(""), q(council), q(police), q(hood)]
        return ",".join(fields)


# ---------------------------------------------------------------------------
def generate(args, out):
    """Write the file; returns (rows, bytes).  Rows are produced and encoded
    in chunks of a few thousand, so memory stays small at any size."""
    gen = TrafficGen(args) if args.dataset == "traffic_accidents" else ServiceGen(args)
    enc = getattr(gen, "enc", "utf-8")
    eol = "\r\n"
    head = gen.header + eol
    bom = b"\xef\xbb\xbf" if (args.dataset != "traffic_accidents" and args.vintage == "2019") else b""
    data = bom + head.encode(enc)
    out.write(data)
    written, rows = len(data), 0
    want_rows = args.rows
    want_bytes = args.size
    chunk = 4096
    row = gen.row
    while True:
        if want_rows is not None:
            n = min(chunk, want_rows - rows)
            if n <= 0:
                break
            lines = [row() for _ in range(n)]
            data = (eol.join(lines) + eol).encode(enc)
        else:
            left = want_bytes - written
            if left <= 0:
                break
            if left > 4 * chunk * 600:
                lines = [row() for _ in range(chunk)]
                data = (eol.join(lines) + eol).encode(enc)
            else:
                # close to the target: row by row, stopping before going over
                line = (row() + eol).encode(enc)
                if len(line) > left:
                    break
                lines, data = [None], line
        out.write(data)
        written += len(data)
        rows += len(lines)
    return rows, written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=["traffic_accidents", "service_requests_311"])
    size = ap.add_mutually_exclusive_group(required=True)
    size.add_argument("--rows", type=int, help="number of data rows")
    size.add_argument("--size", type=parse_size, help="target file size: 500KB, 100MB, 1GB, 64MiB (never exceeded)")
    ap.add_argument("--vintage", help="traffic: 2025 (default), 2019, 2016; 311: 2024 (default), 2019")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--start", type=dt.date.fromisoformat,
                    help="first event date (default: traffic 2013-01-01, 311 one year before --end)")
    ap.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23),
                    help="last event date (default 2026-11-23; never today's date, for determinism)")
    ap.add_argument("--unescaped-quotes", action="store_true",
                    help="311: a few summaries with undoubled inner quotes (non-RFC, as in 2013/14)")
    ap.add_argument("--blank-neighborhood", action="store_true",
                    help="311: leave Neighborhood empty, as in the real 2019-2025 files")
    ap.add_argument("-o", "--out", help="output file (name must contain 'generated'); '-' for stdout")
    args = ap.parse_args(argv)
    traffic = args.dataset == "traffic_accidents"
    if args.vintage is None:
        args.vintage = "2025" if traffic else "2024"
    ok = ("2025", "2019", "2016") if traffic else ("2024", "2019")
    if args.vintage not in ok:
        ap.error(f"--vintage for {args.dataset} must be one of {', '.join(ok)}")
    if args.start is None:
        args.start = dt.date(2013, 1, 1) if traffic else args.end - dt.timedelta(days=365)
    if args.start > args.end:
        ap.error("--start is after --end")
    if (args.rows is not None and args.rows < 0) or (args.size is not None and args.size < 0):
        ap.error("--rows/--size must not be negative")
    if args.out is None:
        args.out = f"{args.dataset}.generated.{args.vintage}.csv"
    if args.out != "-" and "generated" not in os.path.basename(args.out):
        ap.error(f"output name {args.out!r} must contain 'generated' (generated data is always labelled)")
    if args.out == "-":
        rows, nbytes = generate(args, sys.stdout.buffer)
    else:
        tmp = args.out + ".tmp"
        with open(tmp, "wb", buffering=1 << 22) as f:
            rows, nbytes = generate(args, f)
        os.replace(tmp, args.out)
    print(f"generate: {args.out}: {rows} rows, {nbytes} bytes ({args.dataset} vintage {args.vintage}, "
          f"seed {args.seed}, {args.start}..{args.end})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
