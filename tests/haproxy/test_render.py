"""Rendering: quoting of hostile user strings (checked by haproxy -c), and the view's choices."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from octavia_lib.api.drivers import data_models as dm

from statera.providers.haproxy import escape, render, view
from statera.providers.haproxy.process import resolve_binary
from tests.haproxy.helpers import free_vip, get, listener, loadbalancer, member, pool, uid

HOSTILE = [
    "plain",
    "new\nline",
    "carriage\rreturn",
    "\n    bind 0.0.0.0:1\n",
    'double"quote',
    "single'quote",
    "hash # comment",
    "  spaces  around  ",
    "back\\slash\\",
    "dollar $HOME ${PATH}",
    "percent %[src] %%",
    "tab\tand\x00nul\x7f",
    "-f /etc/passwd",
    "-m",
    "",
    "x" * 5000,
    "non-ascii: é ü 漢字 🙂",
    "}{)(][ ;|&",
    "\u2028line separator\u2029",
]


def graph(value: str, key: str) -> tuple[dm.LoadBalancer, dm.Pool]:
    p_default = pool([dm.Member(member_id=uid(), address="127.0.0.1", protocol_port=1,
                                weight=1, admin_state_up=True)],
                     session_persistence={"type": "APP_COOKIE", "cookie_name": key},
                     healthmonitor=dm.HealthMonitor(
                         healthmonitor_id=uid(), type="HTTP", delay=5, timeout=2,
                         max_retries=2, max_retries_down=2, admin_state_up=True,
                         url_path=value, http_version=1.1, domain_name=value,
                         expected_codes="200"),
                     pool_id="10000000-0000-4000-8000-000000000001")
    p_other = pool([], pool_id="20000000-0000-4000-8000-000000000002")
    rules = [
        dm.L7Rule(l7rule_id=uid(), type=t, compare_type=c, value=value, key=key,
                  admin_state_up=True, invert=i)
        for t, c, i in [("PATH", "EQUAL_TO", False), ("HEADER", "REGEX", True),
                        ("COOKIE", "CONTAINS", False), ("HOST_NAME", "ENDS_WITH", False),
                        ("FILE_TYPE", "STARTS_WITH", False)]
    ]
    policies = [
        dm.L7Policy(l7policy_id=uid(), action=action, position=n, admin_state_up=True,
                    redirect_url=value, redirect_prefix=value, redirect_pool_id=p_other.pool_id,
                    rules=rules)
        for n, action in enumerate(["REDIRECT_TO_URL", "REDIRECT_PREFIX", "REDIRECT_TO_POOL",
                                    "REJECT"])
    ]
    lst = listener(8080, p_default, l7policies=policies,
                   insert_headers={"X-Forwarded-For": "true", value: value})
    return loadbalancer("127.0.100.1", [lst], [p_default, p_other], name=value,
                        description=value), p_default


def haproxy_check(text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "check.cfg"
    cfg.write_text(text)
    return subprocess.run([resolve_binary("haproxy"), "-c", "-f", str(cfg)],
                          capture_output=True, text=True, cwd=tmp_path)


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FETCH = re.compile(r"(req\.hdr|req\.cook|res\.cook)\([^)]*\)|always_false")
ACL = re.compile(r"^(    acl ID) .*")


def skeleton(line: str) -> str:
    """A line without ids, quoted values and ACL criteria: its keyword structure (an ACL on
    a value that cannot match, such as an invalid regex, becomes ``always_false``)."""
    return ACL.sub(r"\1", FETCH.sub("FETCH", UUID.sub("ID", line.split('"', 1)[0])))


def test_hostile_strings_cannot_inject_lines(tmp_path: Path) -> None:
    opts = view.Options(state_dir=str(tmp_path))
    baselines = {}
    for valid, key in ((True, "plain"), (False, "not a token")):
        lb, _ = graph("plain", key)
        baselines[valid] = render.render_config(view.build_view(lb, opts)).splitlines()
    texts = []
    with pytest.raises(view.ConfigError):  # an empty redirect URL is refused, not rendered
        view.build_view(graph("", "X-Key")[0], opts)
    for value in filter(None, HOSTILE):
        for key in (value, "X-Key"):
            lb, _ = graph(value, key)
            text = render.render_config(view.build_view(lb, opts))
            lines = text.splitlines()
            baseline = baselines[escape.fetch_arg(key) is not None]
            assert len(lines) == len(baseline), (value, key)
            # Line by line, only quoted values and fetch arguments may differ.
            for ours, base in zip(lines, baseline, strict=True):
                assert skeleton(ours) == skeleton(base), (value, ours)
            assert all(0x20 <= ord(c) < 0x7F for line in lines for c in line)
            texts.append(text)
    # One haproxy -c per distinct config would be slow; every config's proxies concatenated
    # under one global section exercise the same parser on every value.
    head, _, _ = texts[0].partition("\nfrontend ")
    bodies = []
    for n, text in enumerate(texts):
        body = "frontend " + text.partition("\nfrontend ")[2]
        ids = {line.split()[1] for line in body.splitlines()
               if line.startswith(("frontend ", "backend "))}
        for ident in ids:  # proxy names must be unique across the concatenation
            body = body.replace(ident, f"{ident}-{n}")
        body = body.replace("bind 127.0.100.1:8080", f"bind 127.0.100.1:{20000 + n}")
        bodies.append(body)
    result = haproxy_check(head + "\n" + "\n".join(bodies), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]


def test_quote_round_trips_through_haproxy(converger, backends) -> None:
    """A hostile header value still matches exactly what a client sends."""
    a, b = backends("a"), backends("b")
    value = 'v "quoted" $HOME #hash \\back %s'
    p_a, p_b = pool([member(a)]), pool([member(b)])
    vip_port = free_vip()
    rule = dm.L7Rule(l7rule_id=uid(), type="HEADER", compare_type="EQUAL_TO", key="X-Test",
                     value=value, admin_state_up=True, invert=False)
    policy = dm.L7Policy(l7policy_id=uid(), action="REDIRECT_TO_POOL", position=1,
                         redirect_pool_id=p_b.pool_id, admin_state_up=True, rules=[rule])
    lb = loadbalancer(vip_port[0], [listener(vip_port[1], p_a, l7policies=[policy])],
                      [p_a, p_b])
    converger.converge(lb.loadbalancer_id, lb)
    assert get(*vip_port, headers={"X-Test": value})[1] == "b"
    assert get(*vip_port, headers={"X-Test": value + "x"})[1] == "a"
    assert get(*vip_port, headers={"X-Test": value[:-1]})[1] == "a"


@pytest.mark.parametrize("value, expected", [
    ("a", '"a"'),
    ('a"b', '"a\\"b"'),
    ("$x", '"\\$x"'),
    ("a\nb", '"a\\x0ab"'),
    ("é", '"\\xc3\\xa9"'),
    ("\\", '"\\\\"'),
])
def test_quote(value: str, expected: str) -> None:
    assert escape.quote(value) == expected


def test_fetch_arg_refuses_what_it_cannot_express() -> None:
    assert escape.fetch_arg("X-Forwarded-For") == "X-Forwarded-For"
    assert escape.fetch_arg("a#b") == "a\\#b"
    for bad in ("", "a b", "a)b", "a,b", "a'b", 'a"b', "a\\b", "a$b", "é", "a\nb"):
        assert escape.fetch_arg(bad) is None


def test_expected_codes() -> None:
    assert view.expected_codes_regex("200") == "^(200)$"
    assert view.expected_codes_regex("200-202, 204") == "^(200|201|202|204)$"
    with pytest.raises(view.ConfigError):
        view.expected_codes_regex("2xx")


def test_unsafe_identifiers_are_refused(tmp_path: Path) -> None:
    p = pool([dm.Member(member_id="m\nx", address="127.0.0.1", protocol_port=1, weight=1,
                        admin_state_up=True)])
    lb = loadbalancer("127.0.100.1", [listener(80, p)], [p])
    with pytest.raises(view.ConfigError):
        view.build_view(lb, view.Options(state_dir=str(tmp_path)))


def test_full_feature_config_passes_haproxy_check(tmp_path: Path) -> None:
    """Every option of the mapping table at once: TLS termination, PROXY, HSTS, PROMETHEUS..."""
    key, cert = self_signed(tmp_path)
    tls = {"certificate": cert, "private_key": key, "intermediates": [], "primary_cn": "x"}
    members = [dm.Member(member_id=uid(), address=a, protocol_port=443, weight=w,
                         admin_state_up=up, backup=bk, monitor_address="127.0.0.9",
                         monitor_port=8443)
               for a, w, up, bk in [("127.0.0.1", 1, True, False), ("::1", 0, False, True)]]
    hm = dm.HealthMonitor(healthmonitor_id=uid(), type="PING", delay=3, timeout=1,
                          max_retries=2, max_retries_down=4, admin_state_up=True)
    p_tls = pool(members, protocol="HTTP", tls_enabled=True, ca_tls_container_data=cert,
                 tls_container_data=tls, tls_versions=["TLSv1.2", "TLSv1.3"],
                 tls_ciphers="ECDHE+AESGCM", alpn_protocols=["h2", "http/1.1"],
                 healthmonitor=hm, lb_algorithm="SOURCE_IP",
                 session_persistence={"type": "SOURCE_IP", "persistence_timeout": 60})
    p_proxy = pool([dm.Member(member_id=uid(), address="127.0.0.1", protocol_port=81,
                              weight=1, admin_state_up=True)], protocol="PROXYV2")
    https = listener(8443, p_tls, protocol="TERMINATED_HTTPS", default_tls_container_data=tls,
                     sni_container_data=[tls], client_ca_tls_container_data=cert,
                     client_authentication="OPTIONAL", hsts_max_age=31536000,
                     hsts_include_subdomains=True, hsts_preload=True,
                     insert_headers={"X-Forwarded-Proto": "true", "X-SSL-Client-CN": "true",
                                     "X-Forwarded-Port": "True"},
                     tls_versions=["TLSv1.2"], alpn_protocols=["http/1.1"],
                     timeout_tcp_inspect=100, connection_limit=100)
    tcp = listener(9000, p_proxy, protocol="TCP", allowed_cidrs=["10.0.0.0/8", "::/0"])
    prom = listener(9100, None, protocol="PROMETHEUS")
    lb = loadbalancer("127.0.100.1", [https, tcp, prom], [p_tls, p_proxy],
                      flavor={"nbthread": 2, "maxconn": 5000})
    lb_view = view.build_view(lb, view.Options(state_dir=str(tmp_path),
                                               ping_script=str(render.PING_SCRIPT)))
    lb_dir = tmp_path / lb.loadbalancer_id
    lb_dir.mkdir()
    for name, content in lb_view.files:
        (lb_dir / name).write_text(content)
    text = render.render_config(lb_view)
    result = haproxy_check(text, lb_dir)
    assert result.returncode == 0, result.stderr[-3000:] + text
    for fragment in ("ssl crt-list", "verify optional", "Strict-Transport-Security",
                     "prometheus-exporter", "send-proxy-v2", "external-check", "no-tlsv11",
                     "stick on src", "maxconn 5000", "nbthread 2", "[::1]:443",
                     "tcp-request inspect-delay 100"):
        assert fragment in text, fragment
    assert "::/0" not in text  # a CIDR allowing everything drops the ACL


def self_signed(tmp_path: Path) -> tuple[str, str]:
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=x", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return key.read_text(), cert.read_text()


def test_sni_only_listener_defaults_to_its_first_sni_certificate(tmp_path: Path) -> None:
    """Octavia accepts a TERMINATED_HTTPS listener with SNI certificates and no default one:
    the first SNI certificate heads the crt-list, which makes it HAProxy's default."""
    key, cert = self_signed(tmp_path)
    tls = {"certificate": cert, "private_key": key, "intermediates": []}
    lid = uid()
    _, files = view.tls_bind(dm.Listener(listener_id=lid, protocol="TERMINATED_HTTPS",
                                         sni_container_data=[tls, tls]), "/lb")
    assert [name for name, _ in files] == [f"{lid}-sni0.pem", f"{lid}-sni1.pem",
                                           f"{lid}.crtlist"]
    assert dict(files)[f"{lid}.crtlist"].splitlines()[0] == f"/lb/{lid}-sni0.pem"
    with pytest.raises(view.ConfigError, match="no certificate data"):
        view.tls_bind(dm.Listener(listener_id=uid(), protocol="TERMINATED_HTTPS"), "/lb")
