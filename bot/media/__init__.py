"""Files that employees and counsellors send each other: recognised by their bytes, cleaned before sealing."""
