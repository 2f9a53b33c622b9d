"""Events and work orders over MQTT: the publisher, the topic tree, payloads, delivery with
acknowledgement, and the broker's configuration (docs/events.md)."""
