"""Playbooks: the team's common tasks as YAML files under `.mycli/playbooks/`, run by
`mycli run NAME` exactly as `mycli exec` would run them.

model.py is the one schema (it validates files and generates docs/playbook.schema.json),
loader.py finds and reads files keeping line numbers, render.py fills in the params."""
