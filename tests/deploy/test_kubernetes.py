"""deploy/kubernetes against the schemas (kubernetes-validate --strict) and against the server it
runs: every flag exists, ports and probe paths match, the grace period covers the drain, the model
path and user are the image's, and the autoscaler's metric is one the server exports."""
import os
import re
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BASE = os.path.join(REPO, "deploy", "kubernetes")
BIN = os.environ.get("M2D_BIN", os.path.join(REPO, ".build", "debug"))
# make test sets it to the pinned tools environment's (scripts/venv.sh tools).
VALIDATE = os.environ.get("KUBERNETES_VALIDATE", "kubernetes-validate")


def resources():
    kustomization = yaml.safe_load(open(os.path.join(BASE, "kustomization.yaml")))
    return [os.path.join(BASE, r) for r in kustomization["resources"]]


def doc(name):
    return yaml.safe_load(open(os.path.join(BASE, name)))


def container():
    return doc("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]


def flag(args, name):
    return args[args.index(name) + 1]


@pytest.mark.parametrize("path", resources(), ids=os.path.basename)
def test_manifest_validates_strictly(path):
    assert shutil.which(VALIDATE), "no kubernetes-validate: set KUBERNETES_VALIDATE=$(scripts/venv.sh tools)/kubernetes-validate"
    r = subprocess.run([VALIDATE, "--strict", path], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_file_in_the_folder_is_a_resource_of_the_base():
    listed = {os.path.basename(p) for p in resources()}
    present = {f for f in os.listdir(BASE) if f.endswith(".yaml") and f != "kustomization.yaml"}
    assert listed == present


def test_arguments_are_flags_of_the_server():
    help_text = subprocess.run([os.path.join(BIN, "m2d-server"), "--help"], capture_output=True, text=True).stdout
    for arg in container()["args"]:
        if arg.startswith("--"):
            assert re.search(rf"(^|\s){re.escape(arg)}(\s|$)", help_text), f"m2d-server has no {arg}"


def test_ports_probes_and_grace_period_match_the_server():
    c = container()
    args = c["args"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["http"] == int(flag(args, "--port")) and ports["admin"] == int(flag(args, "--admin-port"))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["port"] == "admin" and get["path"] in ("/health/live", "/health/ready")
    assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    pre_stop = int(c["lifecycle"]["preStop"]["exec"]["command"][1])
    grace = doc("deployment.yaml")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > pre_stop + float(flag(args, "--shutdown-timeout"))
    service = doc("service.yaml")
    assert {p["targetPort"] for p in service["spec"]["ports"]} == set(ports)
    annotations = doc("deployment.yaml")["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["admin"]


def test_model_path_user_and_ports_are_the_images():
    dockerfile = open(os.path.join(REPO, "Dockerfile")).read()
    c = container()
    model = {e["name"]: e["value"] for e in c["env"]}["M2D_MODEL"]
    assert re.search(rf"COPY models/\S+ {re.escape(model)}\n", dockerfile), model
    uid = doc("deployment.yaml")["spec"]["template"]["spec"]["securityContext"]["runAsUser"]
    assert f"--uid {uid}" in dockerfile
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.+)$", dockerfile, re.M) for p in line.split()}
    assert exposed == {p["containerPort"] for p in c["ports"]}


def test_the_autoscaler_metric_is_exported_by_the_server():
    rules = yaml.safe_load(doc("prometheus-adapter-rules.yaml")["data"]["config.yaml"])["rules"]
    assert doc("hpa.yaml")["spec"]["metrics"][0]["pods"]["metric"]["name"] == rules[0]["name"]["as"]
    wanted = set(re.findall(r"m2d_[a-z_]+", rules[0]["metricsQuery"] + rules[0]["seriesQuery"]))
    model = os.path.join(REPO, "models", "m2d-small-debian")
    server = subprocess.Popen([os.path.join(BIN, "m2d-server"), "--model", model, "--host", "127.0.0.1",
                               "--port", "0", "--admin-port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        admin = None
        for line in server.stderr:
            m = re.search(r"admin_port=(\d+)", line)
            if m:
                admin = int(m.group(1))
                break
        assert admin, "no admin port in the log"
        for _ in range(100):
            try:
                text = urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.1)
        exported = set(re.findall(r"^(m2d_[a-z_]+)", text, re.M))
        assert wanted <= exported, wanted - exported
    finally:
        server.terminate()
        server.wait(timeout=60)
