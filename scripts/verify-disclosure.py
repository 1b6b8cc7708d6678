#!/usr/bin/env python3
"""Verify Backstop's public donation disclosure from the feed alone (python3, stdlib only).

Usage:
  verify-disclosure.py --feed URL-or-file --head saved-head.json [--write-signature DIR]

  --feed   http(s)://HOST/public/donations/CAMPAIGN/feed[?province=NN] (every page is
           fetched), or a saved feed file (one page with every entry, or a JSON list of pages).
  --head   a signed head saved earlier: one element of .../heads, or the whole answer (its
           last head of the feed's province is used).
  --write-signature DIR
           also write DIR/payload.txt and DIR/signature.bin for the signature check with
           openssl (see below).

What it checks (exit 0 when all hold, 2 on any problem, 1 on a usage or network error):
  * every entry's hash = SHA-256(prev_hash || canonical text of the entry), where the
    canonical text is json.dumps(entry, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False) and the first prev_hash is 64 zeros;
  * every link (prev_hash = the previous entry's hash) and gap-free numbering from 1;
  * the published running totals = the sums recomputed from the entries' lines;
  * the head's hash = the recomputed hash of its entry, and its cumulative and period totals
    = the recomputed sums.

The head's Ed25519 signature is NOT checked here (python's standard library has no Ed25519).
Check it with the CLI (backstop ledger verify --feed ... --head ...) or with openssl:

  curl -s https://HOST/public/donations/key.pem > key.pem
  verify-disclosure.py --feed ... --head head.json --write-signature sig/
  openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in sig/payload.txt -sigfile sig/signature.bin

docs/DISCLOSURE.md describes the format.
"""

import argparse
import hashlib
import json
import os
import sys
import urllib.request

GENESIS = "0" * 64
FIELDS = ("received_fen", "allocated_fen", "delivered_fen", "fee_fen", "in_stock_fen")


def canonical(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev, entry):
    return hashlib.sha256((prev + canonical(entry)).encode("utf-8")).hexdigest()


def apply(t, account, value):
    if account == "donor":
        t["received_fen"] -= value
    elif account == "stock":
        t["in_stock_fen"] += value
    elif account in ("allocated", "in_transit", "discrepancy"):
        t["allocated_fen"] += value
    elif account == "delivered":
        t["allocated_fen"] += value
        t["delivered_fen"] += value
    elif account == "fee":
        t["fee_fen"] += value


def read(src):
    if src.startswith("http://") or src.startswith("https://"):
        with urllib.request.urlopen(src, timeout=60) as r:
            return r.read().decode("utf-8")
    with open(src, encoding="utf-8") as f:
        return f.read()


def load_feed(src):
    if not (src.startswith("http://") or src.startswith("https://")):
        data = json.loads(read(src))
        pages = data if isinstance(data, list) else [data]
        entries = [e for p in pages for e in p["entries"]]
        return entries, pages[0]["province"] if pages else ""
    entries, after, province = [], 0, ""
    while True:
        sep = "&" if "?" in src else "?"
        page = json.loads(read(f"{src}{sep}after={after}"))
        province = page["province"]
        entries.extend(page["entries"])
        nxt = page.get("next_after")
        if nxt is None or nxt <= after:
            return entries, province
        after = nxt


def load_head(path, province):
    data = json.loads(read(path))
    if isinstance(data, dict) and "payload" in data:
        return data
    heads = data["heads"] if isinstance(data, dict) else data
    for h in reversed(heads):
        if json.loads(h["payload"])["province"] == province:
            return h
    raise SystemExit(f"链头文件中没有省 {province} 的链头")


def verify(entries, head):
    problems = []
    p = json.loads(head["payload"])
    prev, totals = GENESIS, {k: 0 for k in FIELDS}
    at_since = dict(totals) if p["since_seq"] == 0 else None
    reached = False
    for i, e in enumerate(entries):
        want = i + 1
        if e["seq"] != want:
            problems.append(f"第 {want} 条记账缺失（下一条为第 {e['seq']} 条）：有记账被删除")
            break
        if e["prev_hash"] != prev:
            problems.append(f"第 {e['seq']} 条记账的前一哈希与链不符：链被改动")
        h = chain_hash(prev, e["entry"])
        if h != e["hash"]:
            problems.append(f"第 {e['seq']} 条记账内容与其哈希不符：该记账在公布后被改动")
        if e["entry"].get("seq") != e["seq"] or e["entry"].get("province") != p["province"]:
            problems.append(f"第 {e['seq']} 条记账的序号或省份与链不符")
        for line in e["entry"].get("lines", []):
            apply(totals, line.get("account", ""), int(line.get("value_fen", 0)))
        if e["totals"] != totals:
            problems.append(f"第 {e['seq']} 条记账后公布的累计数与记账明细之和不符")
        prev = h
        if e["seq"] == p["since_seq"]:
            at_since = dict(totals)
        if e["seq"] == p["seq"]:
            reached = True
            if prev != p["hash"]:
                problems.append(f"重新计算的第 {p['seq']} 条哈希与签名链头不符：链头之前的记账被改动")
            if totals != p["cumulative"]:
                problems.append("由记账重新计算的累计数与签名链头的累计数不符")
            if at_since is not None and {k: totals[k] - at_since[k] for k in FIELDS} != p["period"]:
                problems.append("由记账重新计算的当期数与签名链头的当期数不符")
            head_totals = dict(totals)
    if not reached:
        problems.append(f"公开数据只有 {len(entries)} 条记账，签名链头为第 {p['seq']} 条：链头之前的记账被删除")
        head_totals = totals
    return problems, p, head_totals


def yuan(fen):
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def main():
    ap = argparse.ArgumentParser(description="核验慈善捐赠公开数据（哈希链与合计）")
    ap.add_argument("--feed", required=True)
    ap.add_argument("--head", required=True)
    ap.add_argument("--write-signature", metavar="DIR")
    a = ap.parse_args()
    try:
        entries, province = load_feed(a.feed)
        head = load_head(a.head, province)
    except (OSError, ValueError, KeyError) as e:
        print(f"无法读取公开数据或链头：{e}", file=sys.stderr)
        return 1
    if a.write_signature:
        os.makedirs(a.write_signature, exist_ok=True)
        with open(os.path.join(a.write_signature, "payload.txt"), "wb") as f:
            f.write(head["payload"].encode("utf-8"))
        with open(os.path.join(a.write_signature, "signature.bin"), "wb") as f:
            f.write(bytes.fromhex(head["signature"]))
    problems, p, t = verify(entries, head)
    if problems:
        print(f"公开数据核验失败（签名链头 {p['date']}，第 {p['seq']} 条）：")
        for m in problems:
            print(f"  - {m}")
        return 2
    print(
        f"哈希链与合计核验通过：{len(entries)} 条记账；链头 {p['date']} 第 {p['seq']} 条相符；"
        f"接收 {yuan(t['received_fen'])} 元、拨付 {yuan(t['allocated_fen'])} 元、"
        f"签收 {yuan(t['delivered_fen'])} 元、管理费 {yuan(t['fee_fen'])} 元。"
        "签名请用 backstop ledger verify 或 openssl 核验（见 docs/DISCLOSURE.md）。"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
