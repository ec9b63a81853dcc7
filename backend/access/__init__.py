"""One access policy (访问控制): who may call which route, and which relation decides each resource action.

``routes.ROUTES`` is the table (one short entry per route), ``policy`` answers from it and holds the
relation checks services ask (``check()``), ``docs`` renders docs/ACCESS.md from the same table.
"""
