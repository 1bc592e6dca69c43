"""The book's results pages, laid out from the run store (:func:`claus_core.book_pages.build`)."""
