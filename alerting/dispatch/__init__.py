"""The notification stage: who hears about an alert, on which channels, and when again.

The pipeline is data (:class:`~alerting.dispatch.pipeline.Pipeline`): one list of stages
sharing one interface, each in its own module, run by the :class:`Dispatcher` for every
entry point alike (the evaluator's transitions, the reminder tick, an inhibition that
ended, the catch-up after a restart, a playbook's message). In order:

1. **inhibit** (:mod:`~alerting.dispatch.inhibit`): an alert whose parent region has a
   firing alert of the same indicator at the same or a more severe level, or whose area
   has an active playbook run at the same or a more severe variant, is recorded as
   ``alert.inhibited`` and not sent; when the inhibitor goes (parent resolved, run closed)
   ``alert.inhibition_ended`` is recorded and the alert is notified as firing;
2. **silence** (:mod:`~alerting.dispatch.holds`): a silence of the log that matches the
   alert (rule, region or above, level) holds back everything about it until it ends; an
   acknowledged alert gets no reminders (the ``alerts`` projection says which);
3. **mute windows** (:mod:`~alerting.dispatch.holds`): recurring windows of the policy hold
   back the levels they name until they end; the first reminder after the window carries
   the news. Inhibitions, silences and mute windows answer one question,
   :class:`~alerting.dispatch.mutes.Mutes` ``.mutes(alert, at) -> reason | None``;
4. **route** (:mod:`~alerting.dispatch.route`): city-tier officers on duty for the alert's
   region or its city; levels in ``policy.notify_province_at`` (I and II by default) reach
   province duty at once;
5. **group** (:mod:`~alerting.dispatch.group`): notifications are queued per officer and
   region group (``policy.group_by``, the city by default); a new group is sent after
   ``group_wait``, alerts added to a group already notified wait until ``group_interval``
   after its last message; one message carries every queued alert of the group;
6. **channels** (:mod:`~alerting.dispatch.delivery`): every contact of the officer with a
   configured notifier;
7. **dedupe**: every alert in a message has a stable notification id (alert, kind, round,
   officer, channel); ids already in the log as ``notification.sent`` are never sent
   again, so a restart repeats nothing that was delivered. After a restart, firing alerts
   that no notification ever reached (the worker died between the alert and its message)
   are notified;
8. **deliver with retry** (:func:`alerting.notify.retry.deliver`, acting on the notifier's
   ``recoverable`` flag): every attempt becomes a ``notification.sent`` or
   ``notification.failed`` event per alert of the message.

Around the pipeline, the tick also decides to **escalate** (unacknowledged after
``policy.escalate_after`` -> province duty is told, entering at the route stage, and
``alert.escalate`` is sent to the alert's writer) and to **remind** every
``policy.repeat_interval`` until acknowledged, and **hands over**: an officer whose shift
began within ``policy.handover_window`` gets one brief of the open alerts of their regions (once per
shift, restarts included), queued straight into the group stage.

Nothing is lost when the broker is unavailable. Every decision (a batch of transitions, a
tick) is taken on a :class:`~alerting.dispatch.pipeline.Changes` view of the state; its
commands to the alerts' writer (escalate, inhibit, uninhibit) go through the dispatcher's
:class:`~streams.writer.EventWriter` and its effects (inhibited set, reminder rounds,
escalations, queued notices) are applied only once every command has its outcome. While a
decision is held, no new one is taken: transitions handed over meanwhile wait in a
backlog, and each tick first sends the held commands again (with backoff). Delivery
attempts are recorded through the writer; a message already sent is remembered at once
(it cannot be unsent), so it is not sent twice while its ``notification.sent`` waits.
"""

from __future__ import annotations

from alerting.dispatch.delivery import build_notifiers
from alerting.dispatch.dispatcher import Dispatcher

__all__ = ["Dispatcher", "build_notifiers"]
