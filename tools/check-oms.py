#!/usr/bin/env python3
"""Checks an OpenSSF Model Signing v1.0 bundle (key method) with no Embargo code: Python's `cryptography` and
`jsonschema` (Debian: python3-cryptography, python3-jsonschema) and the OMS JSON Schemas in tools/oms-schemas
(ossf/model-signing-spec, schemas/v1.0).

    python3 tools/check-oms.py BUNDLE PUBLIC_KEY.pem MODEL_DIR

1. the bundle, its DSSE envelope, the decoded statement and its predicate validate against the four OMS schemas;
2. publicKey.hint is the hex SHA-256 of the key's DER SubjectPublicKeyInfo;
3. the DSSE signature (DER-encoded ECDSA over PAE, with the curve's hash) verifies under the key;
4. the subject's root digest is SHA-256 over the resources' raw digests, in name order;
5. every regular file under MODEL_DIR (but .git* at its root) is listed with its SHA-256, and nothing else is.
Exit 0 when all hold; otherwise the first failure, one line, exit 1.
"""
import base64, hashlib, json, os, sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
import jsonschema

SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oms-schemas")
IGNORED = {".git", ".gitignore", ".gitattributes", ".github"}


def fail(msg):
    print(f"check-oms: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def validator(name, store):
    schema = store[f"https://model_signing/{name}/v1.0/schema"]
    try:  # jsonschema >= 4.18
        from referencing import Registry, Resource
        registry = Registry().with_resources((uri, Resource.from_contents(s)) for uri, s in store.items())
        return jsonschema.Draft202012Validator(schema, registry=registry)
    except ImportError:  # Debian 12's 4.10
        return jsonschema.Draft202012Validator(schema, resolver=jsonschema.RefResolver.from_schema(schema, store=store))


def main(bundle_path, key_path, model):
    store = {}
    for name in ("bundle", "envelope", "statement", "predicate"):
        schema = json.load(open(os.path.join(SCHEMAS, f"{name}.schema.json")))
        store[schema["$id"]] = schema
    bundle = json.load(open(bundle_path))
    payload = base64.b64decode(bundle["dsseEnvelope"]["payload"], validate=True)
    statement = json.loads(payload)
    for name, doc in (("bundle", bundle), ("envelope", bundle["dsseEnvelope"]), ("statement", statement), ("predicate", statement["predicate"])):
        errors = sorted(validator(name, store).iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            fail(f"{name} schema: {errors[0].message} at {'/'.join(map(str, errors[0].path)) or '(root)'}")
    print("ok  schemas: bundle, envelope, statement and predicate validate against the OMS v1.0 JSON Schemas")

    key = serialization.load_pem_public_key(open(key_path, "rb").read())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        fail("the public key is not an ECDSA key")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    hint = bundle["verificationMaterial"]["publicKey"].get("hint")
    if hint != hashlib.sha256(der).hexdigest():
        fail(f"publicKey.hint {hint} is not the SHA-256 of the key's DER SubjectPublicKeyInfo {hashlib.sha256(der).hexdigest()}")
    print(f"ok  key: hint {hint[:16]}… = SHA-256 of the DER SubjectPublicKeyInfo ({key.curve.name})")

    digest = {"secp256r1": hashes.SHA256(), "secp384r1": hashes.SHA384(), "secp521r1": hashes.SHA512()}.get(key.curve.name)
    if digest is None:
        fail(f"curve {key.curve.name} is not in the OMS algorithm registry")
    ptype = bundle["dsseEnvelope"]["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
    verified = False
    for s in bundle["dsseEnvelope"]["signatures"]:
        try:
            key.verify(base64.b64decode(s["sig"]), pae, ec.ECDSA(digest))  # cryptography takes DER signatures
            verified = True
        except InvalidSignature:
            pass
    if not verified:
        fail("no DSSE signature verifies under the key")
    print(f"ok  signature: DER ECDSA ({digest.name}) over the DSSE PAE verifies")

    resources = statement["predicate"]["resources"]
    names = [r["name"] for r in resources]
    if names != sorted(names):
        fail("resources are not sorted by name")
    root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    if statement["subject"][0]["digest"]["sha256"] != root:
        fail(f"the subject's root digest is not SHA-256 over the resource digests ({root})")
    print(f"ok  subject: root digest {root[:16]}… over {len(resources)} resource digests")

    found = {}
    for base, dirs, files in os.walk(model):
        if base == model:
            dirs[:] = [d for d in dirs if d not in IGNORED]
        for f in files:
            rel = os.path.relpath(os.path.join(base, f), model).replace(os.sep, "/")
            if rel in IGNORED:
                continue
            found[rel] = hashlib.sha256(open(os.path.join(base, f), "rb").read()).hexdigest()
    listed = {r["name"]: r["digest"] for r in resources}
    if found != listed:
        extra = sorted(set(found) - set(listed))
        missing = sorted(set(listed) - set(found))
        changed = sorted(n for n in set(found) & set(listed) if found[n] != listed[n])
        fail(f"files differ from the manifest: unsigned {extra}, missing {missing}, changed {changed}")
    print(f"ok  files: all {len(found)} files under {model} match the signed manifest, and no other file is there")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
