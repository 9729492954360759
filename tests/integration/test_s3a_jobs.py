"""What the daemon tells convert and the jobs about storage (contract:
jobs/README.md, denverd.yaml(5) STORAGE and S3A SETTINGS), through the
built daemon against the real SeaweedFS (s3server.py): with storage: s3 the
convert spec names the snapshot and the datastore by s3a://, with the
`storage` object; spark-submit gets the derived s3a settings as --conf
(the operator's spark.conf entry winning); a configured job gets
{datastore}, {storage}, {spec} and {spark_conf} (the same --conf); the S3 keys reach both in their environment only,
never argv, the spec, the log or denverctl's output.  In local mode no
child sees the daemon's own AWS_* variables.

spark-submit here is a recording stand-in (a real child process, which
writes what it was given and the manifest convert would write): the real
Spark against the real bucket runs in tests/spark/test_s3a_daemon.py."""
import json
import os
import sys
import textwrap

from conftest import base_config, wait_for
from s3server import ACCESS_KEY, SECRET_KEY, s3  # noqa: F401 (the fixture)
from test_dq_ctl import DATASET, serve
from test_sched import q1, wait_run

PREFIX = "dd"
D1 = "2025-03-01"

# Records argv, its own /proc cmdline, the environment and the spec (the
# file after --spec, or argv[2] for a job); as convert, writes the manifest.
RECORDER = textwrap.dedent("""\
    import json, os, sys
    out = os.environ["REC_DIR"] + "/" + os.path.basename(sys.argv[0]) + ".json"
    args = sys.argv[1:]
    spec_path = args[args.index("--spec") + 1] if "--spec" in args else args[1]
    spec = json.load(open(spec_path))
    rec = {"argv": args, "cmdline": open("/proc/self/cmdline", "rb").read().decode(),
           "env": {k: v for k, v in os.environ.items()
                   if k.startswith(("AWS_", "DENVERD_"))},
           "spec": spec, "spec_text": open(spec_path).read()}
    json.dump(rec, open(out, "w"))
    if "manifest" in spec:
        json.dump({"version": 1, "rows_read": spec["rows_checked"]}, open(spec["manifest"], "w"))
""")


def recorder(tmp, name):
    path = tmp / name
    path.write_text("#!%s\n%s" % (sys.executable, RECORDER))
    os.chmod(path, 0o755)
    return path


def config(tmp, www, storage, spark_conf=""):
    submit = recorder(tmp, "spark-submit")
    job = recorder(tmp, "report-job")
    jobs_dir = tmp / "jobs"
    jobs_dir.mkdir()
    (jobs_dir / "convert.py").write_text("")
    ds = DATASET.format(port=www.port).replace("convert: false", "convert: true")
    spark = ("spark:\n  submit: %s\n  jobs_dir: %s\n  master: \"local[1]\"\n"
             "  conf:\n    spark.ui.enabled: \"false\"\n%s" % (submit, jobs_dir, spark_conf))
    jobs = ("jobs:\n  report:\n    after: [demo]\n    retries: 0\n    command: %s\n"
            % json.dumps([str(job), "{datastore}", "{spec}", "{storage}", "{spark_conf}"]))
    return base_config(tmp, ds, extra=storage + spark + jobs)


def run_all(daemon, tmp):
    r = daemon.ctl("trigger", "demo", "--date", D1, "--wait", check=False)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{daemon.log()}"
    job = wait_for("the report job's run", lambda: q1(
        daemon, "SELECT id FROM runs WHERE target = 'report'"), daemon=daemon)
    run = wait_run(daemon, job["id"], timeout=30)
    assert run["state"] == "succeeded", (run, daemon.log()[-3000:])
    return (json.loads((tmp / "rec" / "spark-submit.json").read_text()),
            json.loads((tmp / "rec" / "report-job.json").read_text()))


def test_s3_spec_conf_and_keys_in_the_environment_only(daemon, tmp, www, s3):  # noqa: F811
    b = s3.bucket()
    (tmp / "rec").mkdir()
    storage = ("storage:\n  type: s3\n  endpoint: %s\n  bucket: %s\n  prefix: %s\n"
               % (s3.endpoint, b, PREFIX))
    # The operator's entry wins over the derived one of the same key.
    conf = "    spark.hadoop.fs.s3a.change.detection.mode: server\n"
    daemon.start(config(tmp, www, storage, conf),
                 env={**s3.env(), "REC_DIR": str(tmp / "rec"), "AWS_PROFILE": "leak"})
    serve(www, [(1, "a", 10), (2, "b", 20), (3, "c", 30)])
    conv, job = run_all(daemon, tmp)

    spec = conv["spec"]
    assert spec["input"] == f"s3a://{b}/{PREFIX}/staging/demo/exec_date={D1}/demo.csv"
    assert spec["datastore"] == f"s3a://{b}/{PREFIX}/datastore/demo"
    assert spec["storage"] == {"type": "s3", "endpoint": s3.endpoint, "region": "us-east-1",
                               "path_style": True}
    assert spec["manifest"].startswith(str(tmp / "state" / "work"))
    argv = conv["argv"]
    confs = [argv[i + 1] for i, a in enumerate(argv) if a == "--conf"]
    assert confs == [
        "spark.ui.enabled=false",
        "spark.hadoop.fs.s3a.change.detection.mode=server",
        "spark.hadoop.fs.s3a.endpoint=" + s3.endpoint,
        "spark.hadoop.fs.s3a.endpoint.region=us-east-1",
        "spark.hadoop.fs.s3a.path.style.access=true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled=false",
        "spark.hadoop.fs.s3a.aws.credentials.provider="
        "com.amazonaws.auth.EnvironmentVariableCredentialsProvider",
        "spark.hadoop.fs.s3a.directory.marker.retention=delete",
    ]
    # The keys: in the environment, and only the three of the contract.
    for rec in (conv, job):
        assert rec["env"]["AWS_ACCESS_KEY_ID"] == ACCESS_KEY
        assert rec["env"]["AWS_SECRET_ACCESS_KEY"] == SECRET_KEY
        assert "AWS_PROFILE" not in rec["env"] and "AWS_REGION" not in rec["env"]
        assert "AWS_SESSION_TOKEN" not in rec["env"]
        for text in (rec["cmdline"], json.dumps(rec["argv"]), rec["spec_text"]):
            assert SECRET_KEY not in text and ACCESS_KEY not in text
    # The job: {datastore} is the root in the bucket, {spec} says where it is.
    assert job["argv"][0] == f"s3a://{b}/{PREFIX}/datastore"
    assert job["env"]["DENVERD_DATASTORE"] == job["argv"][0]
    assert job["env"]["DENVERD_SPEC"] == job["argv"][1]
    assert job["spec"]["datastore"] == job["argv"][0]
    assert job["spec"]["storage"] == spec["storage"] and job["spec"]["job"] == "report"
    assert job["spec"]["exec_date"] == D1
    assert json.loads(job["argv"][2]) == spec["storage"]      # {storage}, for --storage
    assert job["argv"][3:] == argv[argv.index("--conf"):argv.index("--conf") + 2 * len(confs)]
    # Status says who gives Spark its s3a settings; no secret anywhere.
    st = daemon.call("status")["result"]["spark"]
    assert st["s3a"].startswith("spark-submit --conf")
    text = daemon.ctl("status").stdout
    assert "s3a settings: spark-submit --conf" in text
    for out in (text, daemon.ctl("--json", "status").stdout, daemon.ctl("runs").stdout,
                daemon.ctl("show", "1").stdout, daemon.ctl("--json", "show", "1").stdout,
                daemon.log()):
        assert SECRET_KEY not in out
    daemon.stop()


def test_local_children_never_see_the_daemons_aws_variables(daemon, tmp, www):
    (tmp / "rec").mkdir()
    env = {"REC_DIR": str(tmp / "rec"), "AWS_ACCESS_KEY_ID": "AKIAOWNKEY",
           "AWS_SECRET_ACCESS_KEY": "own-secret-7f3", "AWS_SESSION_TOKEN": "own-token"}
    daemon.start(config(tmp, www, ""), env=env)
    serve(www, [(1, "a", 10), (2, "b", 20), (3, "c", 30)])
    conv, job = run_all(daemon, tmp)
    for rec in (conv, job):
        assert not [k for k in rec["env"] if k.startswith("AWS_")], rec["env"]
    state = tmp / "state"
    assert conv["spec"]["storage"] is None
    assert conv["spec"]["input"] == f"{state}/staging/demo/exec_date={D1}/demo.csv"
    assert conv["spec"]["datastore"] == f"{state}/datastore/demo"
    assert not [a for a in conv["argv"] if "fs.s3a" in a]
    assert job["argv"][0] == f"{state}/datastore" and job["argv"][2] == "null"
    assert job["argv"][3:] == ["--conf", "spark.ui.enabled=false"]     # {spark_conf}
    assert job["spec"]["storage"] is None and job["spec"]["datastore"] == f"{state}/datastore"
    assert daemon.call("status")["result"]["spark"] == {"mode": "submit"}
    daemon.stop()


def test_external_server_is_told_nothing_and_status_says_so(daemon, tmp, www, s3):  # noqa: F811
    """spark.mode external: denverd sets no s3a setting anywhere (the
    server's operator does); status and denverctl say so."""
    b = s3.bucket()
    (tmp / "rec").mkdir()
    storage = "storage:\n  type: s3\n  endpoint: %s\n  bucket: %s\n" % (s3.endpoint, b)
    text = config(tmp, www, storage).replace(
        "spark:\n", "spark:\n  mode: external\n  connect: {url: \"sc://127.0.0.1:9\"}\n", 1)
    daemon.start(text, env={**s3.env(), "REC_DIR": str(tmp / "rec")})
    st = daemon.call("status")["result"]["spark"]
    assert st["mode"] == "external" and st["s3a"].startswith("the external server's own")
    assert "s3a settings: the external server's own: denverd sets none" in daemon.ctl("status").stdout
    daemon.stop()
