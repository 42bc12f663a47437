"""Cards rendered without discord.py: the layout shared with the Discord embed (`card_layout`), the
terminal (`console`) and the HTML page of `demo` (`html_page`). Imports core and config only."""
