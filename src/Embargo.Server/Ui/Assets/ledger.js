// Checks a ledger entry's inclusion proof against the server's signed checkpoint, in the browser, with WebCrypto only:
// RFC 6962 hashing (leaf = SHA-256(0x00 || leaf), node = SHA-256(0x01 || left || right)), the inclusion-proof
// verification of RFC 9162 §2.1.3.2, and the C2SP signed note's Ed25519 signature under the ledger's verifier key.
"use strict";
(() => {
  const form = document.getElementById("proof-check");
  const out = document.getElementById("verify-result");
  if (!form || !out) return;
  const enc = new TextEncoder();

  const b64 = (s) => {
    const t = s.trim();
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) throw new Error(`not base64: ${t.slice(0, 20)}`);
    return Uint8Array.from(atob(t), (c) => c.charCodeAt(0));
  };
  const concat = (...parts) => {
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { all.set(p, o); o += p.length; }
    return all;
  };
  const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const hex = (a) => Array.from(a, (x) => x.toString(16).padStart(2, "0")).join("");
  const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
  const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

  // RFC 9162 §2.1.3.2: the root a proof computes for leaf `index` of a tree of `size` leaves (throws on a malformed proof).
  async function rootFromProof(index, size, hash, proof) {
    if (index >= size) throw new Error("the index is not below the tree size");
    let fn = index, sn = size - 1n, r = hash;
    for (const p of proof) {
      if (p.length !== 32) throw new Error("a proof hash is not 32 bytes");
      if (sn === 0n) throw new Error("the proof is longer than the tree is deep");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        if ((fn & 1n) === 0n) {
          while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) throw new Error("the proof is shorter than the tree is deep");
    return r;
  }

  // C2SP signed note: body, blank line, "— <name> <base64(key id (4) || signature (64))>" lines.
  async function openCheckpoint(note, vkey) {
    // "<name>+<hex key id>+<base64(0x01 || key)>": the base64 may itself hold '+', the name may not.
    const [, name, keyIdHex, keyB64] = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(vkey.trim()) || [];
    if (!name) throw new Error("the verifier key is not name+keyid+key");
    const key = b64(keyB64 || "");
    if (key.length !== 33 || key[0] !== 1) throw new Error("the verifier key is not an Ed25519 note key");
    const id = (await sha256(concat(enc.encode(name + "\n"), key))).slice(0, 4);
    if (hex(id) !== keyIdHex) throw new Error("the verifier key's id does not match its key");
    const split = note.indexOf("\n\n");
    if (split < 0) throw new Error("the checkpoint has no signature block");
    const body = note.slice(0, split + 1);
    const lines = note.slice(split + 2).split("\n").filter((l) => l.length > 0);
    const publicKey = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
    let signed = false;
    for (const line of lines) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const blob = b64(m[2]);
      if (blob.length !== 68 || !equal(blob.slice(0, 4), id)) continue;
      if (!(await crypto.subtle.verify({ name: "Ed25519" }, publicKey, blob.slice(4), enc.encode(body)))) {
        throw new Error(`the checkpoint's signature by ${name} does not verify`);
      }
      signed = true;
    }
    if (!signed) throw new Error(`the checkpoint carries no signature by ${name}`);
    const [origin, sizeText, rootText] = body.split("\n");
    if (!/^[1-9][0-9]*$/.test(sizeText)) throw new Error("the checkpoint's size is malformed");
    return { origin, size: BigInt(sizeText), root: b64(rootText) };
  }

  function show(ok, text) {
    out.textContent = (ok ? "Verified: " : "FAILED: ") + text;
    out.className = "notice " + (ok ? "done" : "refused");
    out.dataset.outcome = ok ? "verified" : "failed";
  }

  async function check() {
    out.textContent = "Checking…";
    out.dataset.outcome = "pending";
    try {
      if (!window.crypto || !crypto.subtle) throw new Error("this browser offers no WebCrypto here (it needs HTTPS or localhost)");
      const index = BigInt(form.dataset.index);
      const size = BigInt(form.dataset.size);
      const leaf = b64(document.getElementById("leaf").value);
      const proof = document.getElementById("proof").value.split("\n").map((l) => l.trim()).filter((l) => l.length > 0).map(b64);
      const checkpoint = await openCheckpoint(document.getElementById("checkpoint").value, document.getElementById("vkey").value);
      if (checkpoint.size !== size) throw new Error(`the proof is for size ${size}, the checkpoint signs size ${checkpoint.size}`);
      const root = await rootFromProof(index, size, await leafHash(leaf), proof);
      if (!equal(root, checkpoint.root)) {
        throw new Error(`the proof computes root ${hex(root).slice(0, 16)}…, the signed checkpoint has ${hex(checkpoint.root).slice(0, 16)}…`);
      }
      show(true, `entry #${index} is in the ledger "${checkpoint.origin}" of ${size} entries, whose root the checkpoint's Ed25519 signature commits to.`);
    } catch (e) {
      show(false, e && e.message ? e.message : String(e));
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); check(); });
  check();
})();
