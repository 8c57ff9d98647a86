"""Reading Lancers and CrowdWorks pages: platform adapters and the Playwright fetcher."""
