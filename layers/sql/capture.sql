-- Change capture and derived attributes, installed by layers/capture.py after every migrate.
-- Times are statement_timestamp(): like Django's Now(), and distinct per statement inside one
-- transaction, so histories sort in the order things happened.
-- Everything here is CREATE OR REPLACE: re-running it is harmless.
-- Tokens @@name@@ are filled in from Python declarations (one source of truth).

-- Who is acting: the application sets ioc.actor for its transactions (SET LOCAL via
-- set_config(..., true)); a direct database login (QGIS, psql) is recorded by its role.
CREATE OR REPLACE FUNCTION ioc_actor() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('ioc.actor', true), ''), session_user::text)
$$;

-- Field-of-view sector of a camera: a fan of points projected on the spheroid from the
-- camera at bearing ± angle/2 out to range, closed back to the camera (a full circle
-- when the angle is 360°). About one vertex per 5° of arc.
CREATE OR REPLACE FUNCTION ioc_camera_fov(
  center geometry, bearing double precision, angle double precision, range_m double precision
) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN center IS NULL OR bearing IS NULL OR angle IS NULL OR range_m IS NULL THEN NULL
    WHEN angle >= 360 THEN ST_SetSRID(ST_MakePolygon(ST_MakeLine(ARRAY(
      SELECT ST_Project(center::geography, range_m, radians(bearing + 360.0 * i / 72))::geometry
      FROM generate_series(0, 72) AS i ORDER BY i))), 4326)
    ELSE ST_SetSRID(ST_MakePolygon(ST_MakeLine(
      ARRAY[ST_Force2D(center)]
      || ARRAY(
        SELECT ST_Project(center::geography, range_m,
                          radians(bearing - angle / 2 + angle * i / n))::geometry
        FROM (SELECT greatest(4, ceil(angle / 5))::int AS n) AS steps,
             generate_series(0, n) AS i ORDER BY i)
      || ARRAY[ST_Force2D(center)])), 4326)
  END
$$;

CREATE OR REPLACE FUNCTION ioc_derive_camera_fov() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.fov := ioc_camera_fov(NEW.geom, NEW.bearing, NEW.fov_angle, NEW.range_m);
  RETURN NEW;
END $$;

-- The 2025 commune a point lies in (recomputed only when the point moves).
CREATE OR REPLACE FUNCTION ioc_derive_commune() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.geom IS DISTINCT FROM OLD.geom OR NEW.commune_id IS DISTINCT FROM OLD.commune_id THEN
    NEW.commune_id := (
      SELECT u.id FROM @@adminunit@@ u
      WHERE u.layer = 'communes' AND ST_Intersects(u.geom, NEW.geom)
      ORDER BY u.id LIMIT 1);
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ioc_derive_length() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.length_m := round(ST_Length(NEW.geom::geography)::numeric, 1);
  RETURN NEW;
END $$;

-- Field report workflow: allowed transitions and service-level deadlines come from
-- layers/reports.py.
CREATE OR REPLACE FUNCTION ioc_report_transition_ok(from_status text, to_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT from_status = to_status OR EXISTS (
    SELECT 1 FROM (VALUES @@transitions@@) AS t(f, s) WHERE t.f = from_status AND t.s = to_status)
$$;

CREATE OR REPLACE FUNCTION ioc_report_sla(category text) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((SELECT d FROM (VALUES @@sla@@) AS t(c, d) WHERE t.c = category), interval '7 days')
$$;

CREATE OR REPLACE FUNCTION ioc_report_defaults() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.tracking_code IS NULL OR NEW.tracking_code = '' THEN
      NEW.tracking_code := 'PA-' || to_char(coalesce(NEW.submitted_at, statement_timestamp()) AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYMMDD')
                           || '-' || upper(substr(md5(random()::text || clock_timestamp()::text), 1, 6));
    END IF;
    IF NEW.status <> 'new' AND current_setting('ioc.allow_any_status', true) IS DISTINCT FROM 'on' THEN
      RAISE EXCEPTION USING ERRCODE = 'check_violation',
        MESSAGE = format('A new field report starts as "new", not "%s"', NEW.status);
    END IF;
  ELSIF NOT ioc_report_transition_ok(OLD.status, NEW.status) THEN
    RAISE EXCEPTION USING ERRCODE = 'check_violation',
      MESSAGE = format('Field report %s cannot go from "%s" to "%s"', OLD.tracking_code, OLD.status, NEW.status);
  END IF;
  IF NEW.due_at IS NULL THEN
    NEW.due_at := coalesce(NEW.submitted_at, statement_timestamp()) + ioc_report_sla(NEW.category);
  END IF;
  IF NEW.status IN ('resolved', 'closed') AND NEW.resolved_at IS NULL THEN
    NEW.resolved_at := statement_timestamp();
  ELSIF NEW.status NOT IN ('resolved', 'closed', 'rejected') THEN
    NEW.resolved_at := NULL;
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ioc_report_status_log() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO @@statuslog@@ (report_id, from_status, to_status, changed_at, changed_by, note)
    VALUES (NEW.id, CASE WHEN TG_OP = 'INSERT' THEN '' ELSE OLD.status END, NEW.status,
            CASE WHEN TG_OP = 'INSERT' THEN NEW.submitted_at
                 ELSE coalesce(nullif(current_setting('ioc.changed_at', true), '')::timestamptz, statement_timestamp()) END,
            ioc_actor(),
            coalesce(current_setting('ioc.status_note', true), ''));
  END IF;
  RETURN NULL;
END $$;

-- Stamps and version: every write is a new version, except an UPDATE that changes nothing
-- (re-running an import must not create versions). Runs after the derive triggers (name order).
CREATE OR REPLACE FUNCTION ioc_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- A feature restored after deletion continues its numbering (ioc.next_version, set by
    -- do_restore_version), so an ETag from before the deletion can never match it again.
    NEW.version := coalesce(nullif(current_setting('ioc.next_version', true), '')::int, 1);
    NEW.created_at := statement_timestamp();
    NEW.created_by := ioc_actor();
  ELSE
    NEW.version := OLD.version;
    NEW.created_at := OLD.created_at;
    NEW.created_by := OLD.created_by;
    NEW.updated_at := OLD.updated_at;
    NEW.updated_by := OLD.updated_by;
    IF NEW IS NOT DISTINCT FROM OLD THEN
      RETURN NEW;
    END IF;
    NEW.version := OLD.version + 1;
  END IF;
  NEW.updated_at := statement_timestamp();
  NEW.updated_by := ioc_actor();
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION ioc_bbox(g geometry) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN g IS NULL OR ST_IsEmpty(g) THEN NULL
    ELSE jsonb_build_array(ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)) END
$$;

-- History row + NOTIFY for every insert/update/delete of a published feature. SECURITY
-- DEFINER: editors connected straight to PostGIS (QGIS) need no rights on the history table
-- and cannot forge it; session_user still names them.
-- TG_ARGV[0]: the layer id, or '' when the row names its layer in a "layer" column;
-- TG_ARGV[1..]: geometry columns (the first is the feature's geometry; all count in the bbox).
CREATE OR REPLACE FUNCTION ioc_capture() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  old_j jsonb; new_j jsonb;
  old_g geometry; new_g geometry; old_all geometry; new_all geometry; g geometry;
  col text; i int;
  lyr text; fid bigint; ver int; hid bigint;
BEGIN
  IF TG_OP <> 'INSERT' THEN old_j := to_jsonb(OLD); END IF;
  IF TG_OP <> 'DELETE' THEN new_j := to_jsonb(NEW); END IF;
  FOR i IN 1 .. TG_NARGS - 1 LOOP
    col := TG_ARGV[i];
    IF old_j IS NOT NULL THEN
      EXECUTE format('SELECT ($1).%I::geometry', col) USING OLD INTO g;
      IF i = 1 THEN old_g := g; END IF;
      old_all := CASE WHEN old_all IS NULL THEN g WHEN g IS NULL THEN old_all ELSE ST_Collect(old_all, g) END;
      old_j := old_j - col;
    END IF;
    IF new_j IS NOT NULL THEN
      EXECUTE format('SELECT ($1).%I::geometry', col) USING NEW INTO g;
      IF i = 1 THEN new_g := g; END IF;
      new_all := CASE WHEN new_all IS NULL THEN g WHEN g IS NULL THEN new_all ELSE ST_Collect(new_all, g) END;
      new_j := new_j - col;
    END IF;
  END LOOP;
  lyr := coalesce(nullif(TG_ARGV[0], ''), new_j ->> 'layer', old_j ->> 'layer');
  fid := coalesce(new_j ->> 'id', old_j ->> 'id')::bigint;
  ver := coalesce(new_j ->> 'version', old_j ->> 'version')::int;
  INSERT INTO @@history@@
    (layer, table_name, feature_id, op, version, actor, db_role, changed_at, txid,
     old_data, new_data, old_geom, new_geom, old_bbox, new_bbox)
  VALUES
    (lyr, TG_TABLE_NAME, fid, left(TG_OP, 1), ver, ioc_actor(), session_user, statement_timestamp(), txid_current(),
     old_j, new_j, old_g, new_g, ioc_bbox(old_all), ioc_bbox(new_all))
  RETURNING id INTO hid;
  PERFORM pg_notify('@@channel@@', json_build_object(
    'layer', lyr, 'id', fid, 'op', left(TG_OP, 1), 'version', ver, 'history_id', hid,
    'old_layer', CASE WHEN old_j ->> 'layer' IS DISTINCT FROM new_j ->> 'layer' AND TG_OP = 'UPDATE'
                      THEN old_j ->> 'layer' END,
    'old_bbox', ioc_bbox(old_all), 'new_bbox', ioc_bbox(new_all))::text);
  RETURN NULL;
END $$;
