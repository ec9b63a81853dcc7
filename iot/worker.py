"""The MQTT alarm worker: subscribes to sensor telemetry on a shared subscription.

Until the monitoring rules land it only connects, counts and logs what arrives, and stops cleanly on
SIGTERM. Topic: zhijian/v1/{project_id}/{sensor_id}/telemetry (QoS 1).
"""

from __future__ import annotations

import signal
import threading
import time

import paho.mqtt.client as mqtt
import structlog

from backend.clients.mqtt import make_client, mqtt_params
from backend.logging import configure_logging
from backend.settings import Settings, get_settings

log = structlog.get_logger("zhijian.iot")

TELEMETRY_TOPIC = "zhijian/v1/+/+/telemetry"


def shared_topic(group: str, topic: str = TELEMETRY_TOPIC) -> str:
    """MQTT 5 shared subscription so several workers split the load."""
    return f"$share/{group}/{topic}"


class IotWorker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop_event = threading.Event()
        self.received = 0
        self.client = make_client(settings, f"{settings.MQTT_CLIENT_PREFIX}-iot-{int(time.time())}")
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            log.error("mqtt_connect_refused", reason=str(reason_code))
            return
        topic = shared_topic(self.settings.MQTT_SHARE_GROUP)
        client.subscribe(topic, qos=1)
        log.info("mqtt_connected", subscribed=topic)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if not self.stop_event.is_set():
            log.warning("mqtt_disconnected", reason=str(reason_code))

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:  # noqa: ANN001
        self.received += 1
        log.debug("telemetry_received", topic=message.topic, bytes=len(message.payload))

    def run(self) -> int:
        params = mqtt_params(self.settings)
        self.client.connect_async(params.host, params.port, keepalive=30)
        self.client.loop_start()
        log.info("iot_worker_started", broker=f"{params.host}:{params.port}")
        while not self.stop_event.wait(30):
            log.info("iot_worker_alive", received=self.received)
        self.client.disconnect()
        self.client.loop_stop()
        log.info("iot_worker_stopped", received=self.received)
        return 0

    def stop(self, *_: object) -> None:
        self.stop_event.set()


def main() -> int:
    settings = get_settings()
    configure_logging(settings)
    worker = IotWorker(settings)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    return worker.run()


if __name__ == "__main__":
    raise SystemExit(main())
