"""The stream classifier: landing folders -> endpoint -> lake (or quarantine).

    watcher        the `Ingestor`: the loop over workflows, batches and the states
    landing        one landing folder, read without trusting what is in it
    landing_watch  inotify (watchdog) wakes the loop when something lands
    scan           what is ready: this watcher's shard, in batches, read into files
    rejects        landing entries refused (links, special files, ...), recorded once
    inspect        is a file an image we can classify? else its quarantine reason
    classify       the endpoint's answers for a batch, finding the files it refuses
    metadata       images without their EXIF, GPS or text, for the lake
    store          where files end (lake, quarantine) and the rows that say so
    files          the days of the lake and the quarantine's layout
    notify         events: Postgres NOTIFY and webhooks, sent at least once
    run            `modelfleet ingest`: one supervised watcher process per shard

The endpoint is reached through `modelfleet.endpoint_client`, the lake through
`modelfleet.lake`, the rows through `modelfleet.registry.store.ingest_files`.
"""
