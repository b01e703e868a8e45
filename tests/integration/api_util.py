"""Requests of the platform API (`$castor/api/`, docs/platform.md) from
the tests' raw MQTT 5 client (mqtt_test.py)."""

import json

from mqtt_test import (PUBACK, PUBCOMP, PUBLISH, PUBREC, TestError, check,
                       check_eq, check_packet, gen_pubrel, unique)


def request(c, operation, body, response_topic=None, correlation=None, qos=1):
    """Sends a request and returns the answer PUBLISH (other packets of the
    connection are kept for later)."""
    response_topic = response_topic or unique("reply")
    correlation = correlation if correlation is not None else unique("corr").encode()
    props = {"response_topic": response_topic, "correlation_data": correlation}
    payload = body if isinstance(body, (bytes, str)) else json.dumps(body)
    c.publish("$castor/api/" + operation, payload, qos=qos, packet_id=11,
              properties=props, ack=False)
    # The answer may come before the request's acknowledgement is complete
    # (after PUBREC, before PUBCOMP): both are waited for, in any order.
    p = None
    acked = qos == 0
    others = []  # messages of the connection's subscriptions, kept
    while p is None or not acked:
        q = c.recv()
        if q.type == PUBLISH and q.topic == response_topic:
            check(p is None, "a second answer: %r" % q)
            p = q
        elif q.type == PUBACK and qos == 1:
            check_packet(q, PUBACK, packet_id=11, reason_code=0)
            acked = True
        elif q.type == PUBREC and qos == 2:
            check_packet(q, PUBREC, packet_id=11, reason_code=0)
            c.send(gen_pubrel(11))
        elif q.type == PUBCOMP and qos == 2:
            acked = True
        elif q.type == PUBLISH:
            others.append(q)
        else:
            raise TestError("unexpected %r while waiting for an answer" % q)
    c.pending[0:0] = others
    check_eq(p.props.get("correlation_data"), correlation, "correlation data")
    check_eq(p.props.get("content_type"), "application/json", "content type")
    check_eq(p.props.get("payload_format_indicator"), 1, "payload format indicator")
    check_eq(p.qos, 0, "answer QoS")
    return json.loads(p.payload)


def ok(answer):
    check(answer.get("ok") is True, "expected an ok answer, got %r" % answer)
    return answer


def error_code(answer):
    check(answer.get("ok") is False, "expected an error answer, got %r" % answer)
    return answer["error"]["code"]
