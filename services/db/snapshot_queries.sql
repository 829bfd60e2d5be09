-- The three common queries of the snapshot schema, as the benchmark and an
-- operator would run them. psql variables: dev, acc, chan, t0, t1.

-- Q1: latest snapshot of one device, with its values.
SELECT s.taken_at, g.name AS grp, c.name AS channel, v.value_num, v.value_text
  FROM (SELECT id, taken_at FROM t_snapshot WHERE device_id = :dev ORDER BY taken_at DESC LIMIT 1) s
  JOIN t_snapshot_values v ON v.snapshot_id = s.id AND v.taken_at = s.taken_at
  JOIN t_channel c ON c.id = v.channel_id JOIN t_channel_group g ON g.id = c.group_id;

-- Q2: one channel's history for one device over a time range.
SELECT s.taken_at, v.value_num
  FROM t_snapshot s
  JOIN t_snapshot_values v ON v.snapshot_id = s.id AND v.taken_at = s.taken_at AND v.channel_id = :chan
 WHERE s.device_id = :dev AND s.taken_at >= :'t0' AND s.taken_at < :'t1'
 ORDER BY s.taken_at;

-- Q3: all devices of one account with their latest values.
SELECT d.equipment, s.taken_at, c.name AS channel, v.value_num, v.value_text
  FROM t_device d
  CROSS JOIN LATERAL (SELECT id, taken_at FROM t_snapshot WHERE device_id = d.id
                      ORDER BY taken_at DESC LIMIT 1) s
  JOIN t_snapshot_values v ON v.snapshot_id = s.id AND v.taken_at = s.taken_at
  JOIN t_channel c ON c.id = v.channel_id
 WHERE d.account_id = :acc;
