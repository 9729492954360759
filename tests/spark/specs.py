"""Convert specs for the tests: the two datasets' schemas as CONTRACTS.md
sections 1-2 define them, turned into the spec JSON the daemon writes
(section 4)."""

import json
import os

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TRAFFIC_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%m/%d/%Y %I:%M:%S %p"]
SR311_FORMATS = ["%m/%d/%Y %I:%M:%S %p"]


def col(name, type_="string", required=True, aliases=(), nulls=(), formats=()):
    return {"name": name, "type": type_, "aliases": list(aliases), "formats": list(formats),
            "required": required, "nulls": list(nulls)}


def _tu(unit):
    return [col(f"tu{unit}_{n}", required=False) for n in
            ("vehicle_type", "travel_direction", "vehicle_movement", "driver_action",
             "driver_humancontribfactor", "pedestrian_action")]


# Columns present in every vintage since 2014 are required; the rest came later.
TRAFFIC_COLUMNS = [
    col("object_id", "int", False, aliases=["objectid_1"]),
    col("incident_id", "int"),
    col("offense_id", "int"),
    col("offense_code", "int"),
    col("offense_code_extension", "int"),
    col("offense_type_id", required=False),
    col("offense_category_id", required=False),
    col("top_traffic_accident_offense", required=False),
    col("first_occurrence_date", "timestamp"),
    col("last_occurrence_date", "timestamp"),
    col("reported_date", "timestamp"),
    col("incident_address"),
    col("geo_x", "float", nulls=["0"]),
    col("geo_y", "float", nulls=["0"]),
    col("geo_lon", "float", aliases=["longitude"], nulls=["0"]),
    col("geo_lat", "float", aliases=["latitude"], nulls=["0"]),
    col("district_id"),
    col("precinct_id"),
    col("neighborhood_id"),
    col("bicycle_ind", "bool", False),
    col("pedestrian_ind", "bool", False),
    col("harmful_event_seq_1", required=False),
    col("harmful_event_seq_2", required=False),
    col("harmful_event_seq_3", required=False, aliases=["harmful_event_seq_most"]),
    col("road_location", required=False),
    col("road_description", required=False),
    col("road_contour", required=False),
    col("road_condition", required=False),
    col("light_condition", required=False),
    *_tu(1), *_tu(2),
    col("seriously_injured", "int", False),
    col("fatalities", "int", False),
    col("fatality_mode_1", required=False),
    col("fatality_mode_2", required=False),
    col("seriously_injured_mode_1", required=False),
    col("seriously_injured_mode_2", required=False),
    col("point_x", "float", False, nulls=["0"]),
    col("point_y", "float", False, nulls=["0"]),
]

SR311_COLUMNS = [
    col("case_summary"),
    col("case_status"),
    col("case_source"),
    col("case_created_date", "date", formats=["%m/%d/%Y"]),
    col("case_created_dttm", "timestamp"),
    col("case_closed_date", "date", formats=["%m/%d/%Y"]),
    col("case_closed_dttm", "timestamp"),
    col("first_call_resolution", "bool"),
    col("customer_zip_code", nulls=["0", "00000"]),
    col("incident_address_1"),
    col("incident_address_2"),
    col("incident_intersection_1"),
    col("incident_intersection_2"),
    col("incident_zip_code", nulls=["0", "00000"]),
    col("longitude", "float", nulls=["0"]),
    col("latitude", "float", nulls=["0"]),
    col("agency"),
    col("division"),
    col("major_area"),
    col("type"),
    col("topic"),
    col("council_district"),
    col("police_district"),
    col("neighborhood"),
    col("objectid", "int", False),
]

SCHEMAS = {
    "traffic_accidents": {"key": ["incident_id"], "event_time": "reported_date",
                          "timestamp_formats": TRAFFIC_FORMATS, "columns": TRAFFIC_COLUMNS},
    "service_requests_311": {"key": ["case_created_dttm", "case_summary", "incident_address_1",
                                     "incident_intersection_1", "incident_intersection_2", "agency"],
                             "event_time": "case_created_dttm",
                             "timestamp_formats": SR311_FORMATS, "columns": SR311_COLUMNS},
}


def make_spec(dataset, state_dir, exec_date, input_path, encoding, run_id=1, rows_checked=None,
              line_ending="crlf"):
    """A spec dict for one convert, with the datastore and work paths of
    CONTRACTS.md section 3 under `state_dir`."""
    schema = SCHEMAS[dataset]
    work = os.path.join(state_dir, "work", f"run-{run_id}")
    os.makedirs(work, exist_ok=True)
    return {
        "version": 1, "dataset": dataset, "exec_date": exec_date, "run_id": run_id,
        "timezone": "America/Denver", "input": input_path, "encoding": encoding,
        "line_ending": line_ending, "rows_checked": rows_checked,
        "key": schema["key"], "event_time": schema["event_time"],
        "timestamp_formats": schema["timestamp_formats"],
        "columns": json.loads(json.dumps(schema["columns"])),
        "datastore": os.path.join(state_dir, "datastore", dataset),
        "manifest": os.path.join(work, "manifest.json"),
    }


def write_spec(spec):
    path = os.path.join(os.path.dirname(spec["manifest"]), "convert.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
    return path
