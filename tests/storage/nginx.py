"""Debian's nginx as a process of the test's own: a prefix folder, pid file and logs under tmp,
on a free port of 127.0.0.1, in front of an app, with deploy/nginx/media.conf included."""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.live import ROOT, free_port

NGINX = Path("/usr/sbin/nginx")
MEDIA_CONF = ROOT / "deploy" / "nginx" / "media.conf"


def _config(folder: Path, port: int, app_url: str, var_dir: Path) -> str:
    temp = folder / "temp"
    # Workers read the test's files as the test does (nginx's "nobody" could not enter tmp).
    user = pwd.getpwuid(os.getuid()).pw_name
    return f"""
user {user};
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} info;
events {{ worker_connections 128; }}
http {{
    access_log {folder / "access.log"};
    client_body_temp_path {temp}/client;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include /etc/nginx/mime.types;
    server {{
        listen 127.0.0.1:{port};
        set $shuyuan_var_dir {var_dir.resolve()};
        include {MEDIA_CONF};
        location / {{
            proxy_pass {app_url};
            proxy_set_header Host $http_host;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


@contextmanager
def running_nginx(folder: Path, *, app_url: str, var_dir: Path) -> Iterator[str]:
    """nginx in front of `app_url` for as long as the block runs; yields its base URL."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "temp").mkdir(exist_ok=True)
    port = free_port()
    conf = folder / "nginx.conf"
    conf.write_text(_config(folder, port, app_url, var_dir))
    command = [str(NGINX), "-p", str(folder), "-c", str(conf), "-g", "daemon off;"]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, (folder / "error.log").read_text()
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (folder / "error.log").read_text()
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
