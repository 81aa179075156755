-- The inbound lookup (InboundProcessor.Lookup) is a prepared statement that probes each
-- Message-ID a reply refers to. With unnest's default estimate of 100 rows for an array
-- parameter, its generic plan looked far costlier than a custom plan for the usual one to three
-- references, so PostgreSQL planned it again for every message: 0.67 ms of planning against
-- 0.38 ms to run it (pg_stat_statements, ops/bench inbound). This function only unnests, with an
-- estimate of a few rows; plpgsql keeps it from being inlined back into unnest.
CREATE FUNCTION message_refs(refs text[]) RETURNS SETOF text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE ROWS 3
AS $$
BEGIN
  RETURN QUERY SELECT unnest(refs);
END
$$;
