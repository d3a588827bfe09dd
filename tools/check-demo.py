#!/usr/bin/env python3
"""Independent check of `embargo demo` output, with no Embargo code: Python's standard library for
RFC 6962 hashing, base64 and JSON, and the openssl command for Ed25519 signatures.

    python3 tools/check-demo.py embargo-demo

Checks: (1) the RFC 6962 root of ledger.jsonl equals the checkpoint's root and size; (2) the checkpoint's
signed-note signature verifies under ledger.vkey, and every witness-*.vkey present cosigned it
(C2SP tlog-cosignature, cosignature/v1); (3) the DSSE signature of certificate.dsse.json verifies
under certifier.pub.pem; (4) the certificate lists the sha256 of every file under weights/; (5) the ledger holds
the certificate's certification.approved leaf (at the index the statement names) and a certificate.issued leaf
logging this exact statement, and no later leaf revokes, flags or supersedes it (certificate.revoked,
certificate.flagged-for-reevaluation, certificate.superseded, certification.withdrawn naming the certificate;
case.denied naming its case; another certificate.issued for its case); (6) gateway-audit.jsonl against its ledger
batches; (7) safety-case.json hashes to the digest the certificate's predicate names, every claim in it is supported,
and safety-case.svg is well-formed SVG.
Exit 0 when all hold, 1 otherwise (with the first failure on stderr)."""
import base64, hashlib, json, os, subprocess, sys, tempfile

def fail(msg):
    print(f"check-demo: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)

def mth(hashes):
    """RFC 6962 Merkle Tree Hash over leaf hashes (split at the largest power of two < n)."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()

def ed25519_verify(raw_pub_or_pem, message, signature):
    with tempfile.TemporaryDirectory() as d:
        if isinstance(raw_pub_or_pem, bytes):  # raw 32-byte key -> SPKI PEM
            der = bytes.fromhex("302a300506032b6570032100") + raw_pub_or_pem
            pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n"
        else:
            pem = raw_pub_or_pem
        paths = {name: os.path.join(d, name) for name in ("key.pem", "msg", "sig")}
        open(paths["key.pem"], "w").write(pem)
        open(paths["msg"], "wb").write(message)
        open(paths["sig"], "wb").write(signature)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths["key.pem"], "-rawin",
                            "-in", paths["msg"], "-sigfile", paths["sig"]], capture_output=True)
        return r.returncode == 0

def check_witnesses(out, body, sigs):
    """(2b) C2SP tlog-cosignature: every witness-*.vkey in the folder (name+hash+base64(0x04||pub)) must have cosigned
    the checkpoint: Ed25519 over "cosignature/v1\ntime <t>\n" + the checkpoint body, blob = keyid || u64be(t) || sig."""
    files = sorted(f for f in os.listdir(out) if f.startswith("witness-") and f.endswith(".vkey"))
    for fn in files:
        name, keyhash, keyb64 = open(os.path.join(out, fn)).read().strip().split("+", 2)
        key = base64.b64decode(keyb64, validate=True)
        if key[0] != 4 or len(key) != 33:
            fail(f"{fn} is not an Ed25519 cosignature/v1 key (type 0x04)")
        if hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() != keyhash:
            fail(f"{fn} key hash does not match its key")
        cosigned = None
        for line in sigs.split("\n"):
            if not line.startswith("\u2014 " + name + " "):
                continue
            blob = base64.b64decode(line.split(" ")[2], validate=True)
            if blob[:4].hex() != keyhash:
                continue
            if len(blob) != 76:
                fail(f"cosignature by {name} is {len(blob)} bytes, not 76")
            when = int.from_bytes(blob[4:12], "big")
            if when >= 2**63 or not ed25519_verify(key[1:], f"cosignature/v1\ntime {when}\n".encode() + body.encode(), blob[12:]):
                fail(f"cosignature by {name} does not verify under {fn}")
            cosigned = when
        if cosigned is None:
            fail(f"checkpoint.txt carries no cosignature by {name} ({fn})")
        print(f"ok  witness: {name} cosigned the checkpoint at unix time {cosigned} ({fn})")

def main(out):
    # (1) ledger root vs checkpoint
    leaves = []
    with open(os.path.join(out, "ledger.jsonl"), "rb") as f:
        for i, line in enumerate(f):
            obj = json.loads(line)
            if obj.get("index") != i:
                fail(f"ledger.jsonl line {i + 1} has index {obj.get('index')}")
            leaves.append(base64.b64decode(obj["leaf"], validate=True))
    note = open(os.path.join(out, "checkpoint.txt"), "rb").read().decode("utf-8")
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        fail("checkpoint.txt is not a signed note")
    lines = body.split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    computed = mth([hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves])
    if size != len(leaves):
        fail(f"checkpoint size {size} but ledger.jsonl has {len(leaves)} leaves")
    if computed != root:
        fail(f"RFC 6962 root of ledger.jsonl {computed.hex()} != checkpoint root {root.hex()}")
    print(f"ok  ledger: RFC 6962 root of {len(leaves)} leaves = checkpoint root {root.hex()[:16]}…")

    # (2) checkpoint signature under the note verifier key name+hash+base64(0x01||pub)
    name, keyhash, keyb64 = open(os.path.join(out, "ledger.vkey")).read().strip().split("+", 2)
    key = base64.b64decode(keyb64, validate=True)
    if key[0] != 1 or len(key) != 33:
        fail("ledger.vkey is not an Ed25519 note key")
    if hashlib.sha256(name.encode() + b"\n" + key).digest()[:4].hex() != keyhash:
        fail("ledger.vkey key hash does not match its key")
    verified = False
    for line in sigs.split("\n"):
        if not line.startswith("\u2014 " + name + " "):
            continue
        blob = base64.b64decode(line.split(" ")[2], validate=True)
        if blob[:4].hex() == keyhash and ed25519_verify(key[1:], (body + "\n").encode(), blob[4:]):
            verified = True
    if not verified:
        fail("no checkpoint signature verifies under ledger.vkey")
    print(f"ok  checkpoint: signed note verifies under {name}")
    check_witnesses(out, body + "\n", sigs)

    # (3) DSSE signature: Ed25519 over PAE(payloadType, payload)
    env = json.load(open(os.path.join(out, "certificate.dsse.json")))
    payload = base64.b64decode(env["payload"], validate=True)
    ptype = env["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
    pem = open(os.path.join(out, "certifier.pub.pem")).read()
    if not any(ed25519_verify(pem, pae, base64.b64decode(s["sig"], validate=True)) for s in env["signatures"]):
        fail("no DSSE signature verifies under certifier.pub.pem")
    statement = json.loads(payload)
    print(f"ok  certificate: DSSE signature verifies; {statement['_type']} for {statement['subject'][0]['name']}")

    # (4) every file under weights/ is listed with its sha256
    listed = {w["path"]: w["sha256"] for w in statement["predicate"]["weights"]}
    wdir = os.path.join(out, "weights")
    found = {}
    for root_dir, _, files in os.walk(wdir):
        for fn in files:
            path = os.path.join(root_dir, fn)
            found[os.path.relpath(path, wdir).replace(os.sep, "/")] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    if found != listed:
        fail(f"weights/ files {sorted(found.items())} differ from the certificate's {sorted(listed.items())}")
    print(f"ok  weights: the certificate lists the sha256 of all {len(found)} files under weights/")

    # (5) the certificate is on the ledger, and nothing after it ends it
    check_ledger_events(leaves, statement, payload)

    # (6) the gateway's audit file against its batches on the ledger
    check_gateway_audit(leaves, os.path.join(out, "gateway-audit.jsonl"))

    # (7) safety-case.json is the argument the certificate names: its sha256 is the predicate's safetyCase.digest
    check_safety_case(statement, os.path.join(out, "safety-case.json"), os.path.join(out, "safety-case.svg"))

def check_safety_case(statement, path, svg_path):
    named = statement["predicate"].get("safetyCase")
    if not isinstance(named, dict) or not isinstance(named.get("digest"), str):
        fail("the certificate's predicate names no safetyCase digest")
    if not os.path.exists(path):
        fail(f"{os.path.basename(path)} is missing")
    raw = open(path, "rb").read()
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    if digest != named["digest"]:
        fail(f"{os.path.basename(path)} has digest {digest}, the certificate names {named['digest']}")
    doc = json.loads(raw)
    if doc.get("status") != "supported" or any(c.get("status") != "supported" for c in doc.get("claims", [])):
        fail(f"{os.path.basename(path)} has an open claim, yet a certificate names it")
    if not os.path.exists(svg_path):
        fail(f"{os.path.basename(svg_path)} is missing")
    import xml.etree.ElementTree as ET
    root = ET.parse(svg_path).getroot()
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        fail(f"{os.path.basename(svg_path)} is not an SVG document")
    kinds = ", ".join(f"{c['capability']}: {c['argument']}" for c in doc["claims"])
    print(f"ok  safety case: {os.path.basename(path)} is the one the certificate names ({digest[:19]}…); every claim supported ({kinds}); {os.path.basename(svg_path)} is well-formed SVG")

def check_gateway_audit(leaves, path):
    """Every gateway.audit-batch leaf carries the RFC 6962 root of its lines of the audit file (UTF-8, without newline)."""
    batches = []
    for i, raw in enumerate(leaves):
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("type") == "gateway.audit-batch":
            batches.append((i, event.get("data") or {}))
    if not os.path.exists(path):
        if batches:
            fail(f"the ledger has {len(batches)} gateway audit batch(es) but {os.path.basename(path)} is missing")
        print(f"--  gateway audit: no {os.path.basename(path)} and no audit batch on the ledger: not checked")
        return
    if not batches:
        fail(f"{os.path.basename(path)} is here but no gateway.audit-batch leaf is on the ledger")
    lines = open(path, "rb").read().split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    covered = 0
    for i, data in batches:
        first, count = data.get("firstLine"), data.get("lines")
        if not isinstance(first, int) or not isinstance(count, int) or first != covered or first + count > len(lines):
            fail(f"leaf {i}: batch lines {first}..+{count} do not continue the audit file's {len(lines)} lines at {covered}")
        root = mth([hashlib.sha256(b"\x00" + line).digest() for line in lines[first:first + count]]).hex()
        if root != data.get("root"):
            fail(f"leaf {i}: the RFC 6962 root of audit lines {first}..{first + count - 1} is {root}, the ledger says {data.get('root')}")
        covered = first + count
    decisions = [json.loads(line).get("decision") for line in lines]
    print(f"ok  gateway audit: {covered} of {len(lines)} lines ({', '.join(decisions)}) match the Merkle roots of {len(batches)} ledger batch(es)")

ENDING = ("certificate.revoked", "certificate.flagged-for-reevaluation", "certificate.superseded", "certification.withdrawn")

def check_ledger_events(leaves, statement, payload):
    events = []
    for raw in leaves:
        try:
            event = json.loads(raw)
        except ValueError:
            event = None
        events.append(event if isinstance(event, dict) else {})
    def text(obj, key):
        value = obj.get(key) if isinstance(obj, dict) else None
        return value if isinstance(value, str) else None
    pred = statement["predicate"]
    case, tier = pred["case"], pred["tier"]
    subject = "sha256:" + statement["subject"][0]["digest"]["sha256"]
    index = pred["ledger"]["certificationIndex"]
    if not isinstance(index, int) or not 0 <= index < len(events):
        fail(f"the certificate names ledger index {index}, outside the {len(events)} leaves")
    approved = events[index]
    data = approved.get("data") if isinstance(approved.get("data"), dict) else {}
    if (text(approved, "type") != "certification.approved" or text(data, "case") != case
            or text(data, "manifestDigest") != subject or text(data, "tier") != tier):
        fail(f"leaf {index} is not the certification of case {case} for {subject} at {tier}")
    certificate = text(data, "certificate")
    statement_sha = hashlib.sha256(payload).hexdigest()
    issued = None
    for i in range(index + 1, len(events)):
        d = events[i].get("data") if isinstance(events[i].get("data"), dict) else {}
        if text(events[i], "type") == "certificate.issued" and text(d, "certificate") == certificate:
            if text(d, "statementSha256") != statement_sha:
                fail(f"leaf {i} (certificate.issued) logs another statement for certificate {certificate}")
            issued = i
            break
    if issued is None:
        fail(f"no certificate.issued leaf for certificate {certificate}")
    print(f"ok  ledger events: leaf {index} (certification.approved) and leaf {issued} (certificate.issued) log this certificate")
    later = [(i, text(events[i], "type"), events[i].get("data") if isinstance(events[i].get("data"), dict) else {})
             for i in range(index + 1, len(events))]
    for i, kind, d in later:  # a leaf naming the certificate itself first
        if kind in ENDING and text(d, "certificate") == certificate:
            fail(f"leaf {i} ({kind}) ends certificate {certificate}")
    for i, kind, d in later:
        if kind == "case.denied" and text(d, "case") == case:
            fail(f"leaf {i} (case.denied) denies case {case} after its certification")
        if i > issued and kind == "certificate.issued" and text(d, "case") == case and text(d, "certificate") != certificate:
            fail(f"leaf {i} (certificate.issued) supersedes certificate {certificate} for case {case}")
    print(f"ok  revocation: no leaf after {index} revokes, flags or supersedes certificate {certificate}")

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
