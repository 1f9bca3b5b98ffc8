"""Several hosts on one machine: Debian's nginx with deploy/nginx/ in front of app processes, and
PgBouncer in transaction mode between them and PostgreSQL. Real processes on free ports, each
with its own folder, pid and logs; used by tests/deploy/ and bench/morning_push.py.

The nginx site that runs is deploy/nginx/shuyuan.conf itself, its ${NGINX_...} names filled as
envsubst fills them for an operator: only ports, paths and the certificate differ. PgBouncer
runs deploy/pgbouncer/pgbouncer.ini the same way (its ${PGBOUNCER_...} names).
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.live import ROOT, free_port

NGINX = Path("/usr/sbin/nginx")
PGBOUNCER = Path("/usr/sbin/pgbouncer")
SITE = ROOT / "deploy" / "nginx"
PGBOUNCER_INI = ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini"
SERVER_NAME = "localhost"
_NAME = re.compile(r"\$\{(NGINX_[A-Z_]+)\}")
_PGBOUNCER_NAME = re.compile(r"\$\{(PGBOUNCER_[A-Z_]+)\}")


def render(template: str, values: dict[str, str], names: re.Pattern[str] = _NAME) -> str:
    """`template` with each ${NAME} of `values` filled in (envsubst's rule, for these names only:
    nginx's own $variables stay). Fails on a name of `names` (${NGINX_...}) left unfilled or a
    value not used."""
    unused = [name for name in values if f"${{{name}}}" not in template]
    for name, value in values.items():
        template = template.replace(f"${{{name}}}", value)
    left = sorted(set(names.findall(template)))
    if left or unused:
        raise ValueError(f"unfilled: {left}; not in the template: {unused}")
    return template


def self_signed(folder: Path, name: str = SERVER_NAME) -> tuple[Path, Path]:
    """A certificate for `name` and 127.0.0.1, valid for a day, and its key (PEM files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "tls.crt", folder / "tls.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# What Debian's /etc/nginx/nginx.conf sets around its sites, so a directive the site repeats
# at the wrong level fails here as it would there; plus this run's own pid, logs and temp files.
MAIN_CONF = """\
{user}worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 4096;
}}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    access_log {prefix}/access.log;
    gzip on;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
{extra}
    include {prefix}/shuyuan/shuyuan.conf;
}}
"""


@dataclass(frozen=True)
class Nginx:
    """A running nginx: its HTTPS and HTTP base URLs, the certificate to trust, its folder,
    the hosts behind it."""

    url: str
    http_url: str
    certificate: Path
    prefix: Path
    process: subprocess.Popen[bytes]
    app_servers: tuple[str, ...]

    def tls(self) -> ssl.SSLContext:
        """A client context trusting this nginx's certificate only."""
        return ssl.create_default_context(cafile=str(self.certificate))

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def public_url(https_port: int) -> str:
    """The site's address on this run's nginx (SHUYUAN_PUBLIC_URL of the hosts behind it)."""
    return f"https://{SERVER_NAME}:{https_port}"


def site_values(
    prefix: Path,
    *,
    app_servers: list[str],
    https_port: int,
    http_port: int,
    certificate: Path,
    key: Path,
    static_root: Path = ROOT / "static",
    var_dir: Path = ROOT / "var",
) -> dict[str, str]:
    """The ${NGINX_...} values of a run on 127.0.0.1 (an operator's are in the site's header)."""
    return {
        "NGINX_SERVER_NAME": SERVER_NAME,
        "NGINX_HTTP_LISTEN": f"127.0.0.1:{http_port}",
        "NGINX_HTTPS_LISTEN": f"127.0.0.1:{https_port}",
        "NGINX_TLS_CERTIFICATE": str(certificate),
        "NGINX_TLS_CERTIFICATE_KEY": str(key),
        "NGINX_STATIC_ROOT": str(static_root),
        "NGINX_VAR_DIR": str(var_dir.resolve()),
        "NGINX_CONF_DIR": str(prefix / "shuyuan"),
        "NGINX_APP_SERVERS": " ".join(f"server {server};" for server in app_servers),
    }


def nginx_command(prefix: Path) -> list[str]:
    return [str(NGINX), "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
            "-e", str(prefix / "error.log"), "-g", "daemon off;"]  # fmt: skip


@contextmanager
def running_nginx(
    folder: Path,
    app_servers: list[str],
    *,
    extra_http: str = "",
    extra_values: dict[str, str] | None = None,
    workers: int = 1,
    ports: tuple[int, int] | None = None,
    tls: tuple[Path, Path] | None = None,
    var_dir: Path = ROOT / "var",
) -> Iterator[Nginx]:
    """deploy/nginx/ rendered into `folder` and served by Debian's nginx in the foreground on
    two free ports of 127.0.0.1, in front of `app_servers` (host:port), until the block ends.
    Every other *.conf of deploy/nginx/ (media.conf) is rendered beside the site with the same
    values (and `extra_values`), as an operator installs them. `extra_http` is added to the
    http {} block (the benchmark's baseline servers). `ports`: (HTTPS, HTTP), chosen before
    the hosts start when they must know their public URL (public_url). `tls`: (certificate,
    key), else a self-signed pair made here."""
    prefix = folder / "nginx"
    (prefix / "shuyuan").mkdir(parents=True)
    (prefix / "temp").mkdir()
    certificate, key = tls or self_signed(prefix)
    https_port, http_port = ports or (free_port(), free_port())
    values = site_values(
        prefix,
        app_servers=app_servers,
        https_port=https_port,
        http_port=http_port,
        certificate=certificate,
        key=key,
        var_dir=var_dir,
    )
    values.update(extra_values or {})
    for template in sorted(SITE.glob("*.conf")):
        text = template.read_text(encoding="utf-8")
        used = {name: value for name, value in values.items() if f"${{{name}}}" in text}
        (prefix / "shuyuan" / template.name).write_text(render(text, used), encoding="utf-8")
    # Workers as root run as root here: this run's folders are private to the user running it.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        MAIN_CONF.format(user=user, workers=workers, prefix=prefix, extra=extra_http)
    )
    checked = subprocess.run(
        [*nginx_command(prefix)[:-2], "-t", "-q"], capture_output=True, text=True
    )
    if checked.returncode != 0:
        raise RuntimeError(f"nginx -t refused the configuration:\n{checked.stderr}")
    with (prefix / "stdout.log").open("w+") as log:
        process = subprocess.Popen(nginx_command(prefix), stdout=log, stderr=subprocess.STDOUT)
        nginx = Nginx(
            public_url(https_port),
            f"http://127.0.0.1:{http_port}",
            certificate,
            prefix,
            process,
            tuple(app_servers),
        )
        try:
            _wait_for_port(https_port, process, nginx)
            yield nginx
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def site_values_names() -> frozenset[str]:
    """The names deploy/nginx/shuyuan.conf leaves for envsubst."""
    return frozenset(_NAME.findall((SITE / "shuyuan.conf").read_text(encoding="utf-8")))


def _wait_for_port(port: int, process: subprocess.Popen[bytes], nginx: Nginx) -> None:
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited early:\n{nginx.error_log()}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not listen:\n{nginx.error_log()}") from None
            time.sleep(0.05)


def pgbouncer_values_names() -> frozenset[str]:
    """The names deploy/pgbouncer/pgbouncer.ini leaves for envsubst."""
    return frozenset(_PGBOUNCER_NAME.findall(PGBOUNCER_INI.read_text(encoding="utf-8")))


def pgbouncer_values(
    *, host: str, port: int, listen_port: int, auth_file: Path, pool_size: int = 20
) -> dict[str, str]:
    """The ${PGBOUNCER_...} values of a test run (an operator's are in the file's header): any
    database of the test server at host:port, trusted as that server trusts local logins."""
    return {
        "PGBOUNCER_DATABASES": f"* = host={host} port={port}",
        "PGBOUNCER_LISTEN_ADDR": "127.0.0.1",
        "PGBOUNCER_LISTEN_PORT": str(listen_port),
        "PGBOUNCER_AUTH_TYPE": "trust",
        "PGBOUNCER_AUTH_FILE": str(auth_file),
        "PGBOUNCER_POOL_SIZE": str(pool_size),
    }


def render_pgbouncer(values: dict[str, str]) -> str:
    """deploy/pgbouncer/pgbouncer.ini with `values` filled in, as envsubst does."""
    return render(PGBOUNCER_INI.read_text(encoding="utf-8"), values, _PGBOUNCER_NAME)


@contextmanager
def running_pgbouncer(postgres_url: str, *, pool_size: int = 20) -> Iterator[str]:
    """Debian's PgBouncer running deploy/pgbouncer/pgbouncer.ini (transaction mode) on a free
    port of 127.0.0.1, in front of the PostgreSQL of `postgres_url` (trusting local connections,
    as the test server does); yields `postgres_url` with its host and port replaced by
    PgBouncer's. PgBouncer refuses to run as root: as root it runs as nobody, from a folder
    nobody can read."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(postgres_url)
    user = parts.username or getpass.getuser()
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="shuyuan-pgbouncer-"))
    folder.chmod(0o755)
    try:
        (folder / "users.txt").write_text(f'"{user}" ""\n')
        values = pgbouncer_values(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            listen_port=port,
            auth_file=folder / "users.txt",
            pool_size=pool_size,
        )
        (folder / "pgbouncer.ini").write_text(render_pgbouncer(values), encoding="utf-8")
        for name in ("users.txt", "pgbouncer.ini"):
            (folder / name).chmod(0o644)
        command = [str(PGBOUNCER), str(folder / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]
        with (folder / "pgbouncer.log").open("w+") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 10
                while True:
                    if process.poll() is not None:
                        log.seek(0)
                        raise RuntimeError(f"pgbouncer exited early:\n{log.read()}")
                    try:
                        socket.create_connection(("127.0.0.1", port), 0.5).close()
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise RuntimeError("pgbouncer did not listen") from None
                        time.sleep(0.05)
                netloc = f"{parts.username}@" if parts.username else ""
                yield urlunsplit(parts._replace(netloc=f"{netloc}127.0.0.1:{port}"))
            finally:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
