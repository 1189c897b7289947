#!/usr/bin/env python3
"""Inputs for the peer benchmark: the same N one-page Eingangsbestätigungen
for amtspost (gemeinsam.json + rows.csv), for LibreOffice (one HTML letter
per row from brief.html) and for the typst CLI (one folder per row with the
templates hard-linked, data.json and meta.json).

Usage: make_inputs.py N WORKDIR REPO_ROOT
"""
import csv
import html
import json
import os
import shutil
import sys

n, work, root = int(sys.argv[1]), sys.argv[2], sys.argv[3]
here = os.path.dirname(os.path.abspath(__file__))
example = json.load(open(os.path.join(root, "templates/examples/eingangsbestaetigung.json"), encoding="utf-8"))
shared = {k: v for k, v in example.items() if k not in ("recipient", "reference", "subject", "application")}
json.dump(shared, open(os.path.join(work, "gemeinsam.json"), "w", encoding="utf-8"), ensure_ascii=False)

def row(i):
    name = f"Gemeinde {i}"
    return {
        "reference.ours": f"36.04.01-KI/{i:04}",
        "recipient.lines.0": name,
        "recipient.lines.1": "Der Bürgermeister",
        "recipient.lines.2": f"Rathausplatz {i}",
        "recipient.lines.3": f"{59000 + i} {name}",
        "subject.0": "Ihr Antrag auf Förderung des Kommunalen Integrationszentrums",
        "subject.1": "Eingangsbestätigung",
        "application.date": "2013-04-15",
        "application.received": "2013-04-17",
        "application.subject": f"Gewährung einer Zuwendung für das Kommunale Integrationszentrum der {name}",
        "application.enclosures.0": "Antragsvordruck mit Finanzierungsplan",
        "application.enclosures.1": "Stellenplan",
        "application.enclosures.2": "Integrationskonzept (Entwurf)",
    }

rows = [row(i) for i in range(1, n + 1)]
with open(os.path.join(work, "rows.csv"), "w", encoding="utf-8", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter=";")
    w.writeheader()
    w.writerows(rows)

def nested(r):
    """The row as the data a template reads (what amtspost makes of the CSV)."""
    data = json.loads(json.dumps(shared))
    for key, value in r.items():
        parts = key.split(".")
        slot = data
        for j, p in enumerate(parts):
            last = j == len(parts) - 1
            nxt = None if last else parts[j + 1]
            if p.isdigit():
                p = int(p)
                while len(slot) <= p:
                    slot.append(None)
            if last:
                slot[p] = value
            else:
                if isinstance(p, int):
                    if slot[p] is None:
                        slot[p] = [] if nxt.isdigit() else {}
                else:
                    slot.setdefault(p, [] if nxt.isdigit() else {})
                slot = slot[p]
    return data

letter = open(os.path.join(here, "brief.html"), encoding="utf-8").read()
os.makedirs(os.path.join(work, "html"))
for i, r in enumerate(rows, 1):
    d = nested(r)
    e = lambda s: html.escape(str(s))
    page = letter.format(
        office=e(d["office"]["name"]), unit=e(d["office"]["unit"]), street=e(d["office"]["street"]),
        city=e(d["office"]["city"]), phone=e(d["office"]["phone"]), email=e(d["office"]["email"]),
        return_address=e(d["office"]["return_address"]),
        recipient="<br>".join(e(l) for l in d["recipient"]["lines"]),
        ours=e(d["reference"]["ours"]), subject="<br>".join(e(s) for s in d["subject"]),
        received="17.04.2013", date="15.04.2013", about=e(d["application"]["subject"]),
        enclosures="".join(f"<li>{e(x)}</li>" for x in d["application"]["enclosures"]),
        note=e(d["notes"][0]), signature_note=e(d["signature"]["note"]), signature=e(d["signature"]["name"]),
        letter_date="18.04.2013",
    )
    open(os.path.join(work, "html", f"{i:04}.html"), "w", encoding="utf-8").write(page)

if shutil.which("typst"):
    for i, r in enumerate(rows, 1):
        d = os.path.join(work, "typst", f"{i:04}")
        shutil.copytree(os.path.join(root, "templates"), os.path.join(d, "templates"), copy_function=os.link)
        json.dump(nested(r), open(os.path.join(d, "data.json"), "w", encoding="utf-8"), ensure_ascii=False)
        json.dump({"title": "Eingangsbestätigung", "author": shared["office"]["name"], "date": "2013-04-18"},
                  open(os.path.join(d, "meta.json"), "w", encoding="utf-8"))
