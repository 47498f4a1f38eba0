"""Data sources, deliveries, manifests and monthly snapshots.

    specs        a workflow's `source:` block, one pydantic model per kind
    catalog      the kinds and the classes each can produce (what the config imports)
    base         LabeledImage, MonthSplit, the Source protocol, what a source reads
    sources      open a workflow's source; list its months
    digits, procedural (generators/), packaged, folder      the sources, one module each;
    folder_location, folder_listing, folder_inspect         read a folder or bucket
    deliveries, importer, snapshot, manifest, integrity      a month's files, on disk

Nothing here imports the config: a source reads a workflow through `base.WorkflowData`.
"""
