"""Reading a spec: YAML with its positions, `extends` and `--set`, the schema and its messages.

    loader          a path, built-in name or dict -> a validated `Spec`, errors located
    yaml_source     YAML parsed with each value's file:line:col
    yaml_words      YAML's errors in plain words
    schema          the pydantic models of the spec language
    pydantic_words  pydantic's constraint errors in the spec language's own words
    suggest         "did you mean" for unknown keys and values
    overrides       `--set PATH=VALUE`
    resolved        the spec with `extends` and overrides applied, as YAML
    builtins        the shipped specs by name
    confine         `--confine`: what `extends` may read
    reference_doc   docs/spec-reference.md generated from the schema
"""
