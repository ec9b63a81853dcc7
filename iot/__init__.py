"""MQTT sensor ingest and the alarm worker (python -m iot.worker)."""
