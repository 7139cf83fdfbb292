"""The pages' shell: login, the menu, error pages, shared page helpers and the vendored assets."""
